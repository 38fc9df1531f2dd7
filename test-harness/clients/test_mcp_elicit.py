"""The official `mcp` SDK client answering a tool's elicitation through one MCP endpoint in
front of the Python test backends (test-harness/clients/mcp_server.py `ask_name`): in 2026-07-28
the server asks with an `InputRequiredResult` and the client retries with its answers; in the
session-based protocol the server asks mid-call.

- MCP_URL: the endpoint.
- MCP_CASES: a JSON list of {"mode", "tool", "text"}: calling `tool` connected in `mode` must
  answer a text containing `text`.
"""

import asyncio
import json
import os
from typing import Any

import pytest

from mcp import Client
from mcp import types

MCP_URL = os.environ.get("MCP_URL", "")
CASES: list[dict[str, Any]] = json.loads(os.environ.get("MCP_CASES", "[]"))
NAME = "Grace Gateway"

pytestmark = pytest.mark.skipif(not MCP_URL, reason="MCP_URL is not set")


async def elicit(_context: Any, _params: types.ElicitRequestParams) -> types.ElicitResult:
    return types.ElicitResult(action="accept", content={"name": NAME})


@pytest.mark.parametrize("case", CASES, ids=[f"{c['mode']}-{c['tool']}" for c in CASES])
def test_the_elicitation_is_answered(case: dict[str, Any]) -> None:
    async def run() -> str:
        async with Client(MCP_URL, mode=case["mode"], cache=None, read_timeout_seconds=30,
                          elicitation_callback=elicit) as client:
            result = await client.call_tool(case["tool"], {})
            assert not result.is_error, result
            return "\n".join(getattr(b, "text", "") or "" for b in result.content)

    text = asyncio.run(run())
    assert case["text"] in text and NAME in text, text


def test_cases_are_given() -> None:
    assert CASES
