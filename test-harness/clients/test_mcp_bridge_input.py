"""A 2026-07-28 client (the official `mcp` SDK in automatic mode) calling tools of a
session-based backend (server-everything) that ask the client mid-call, through the MCP
gateway, which bridges the client to the backend's session.

- MCP_URL: the gateway's endpoint; server-everything's tools are prefixed `everything_`.
- MCP_EXPECT: `bridged`: the backend's sampling and elicitation requests reach the client as
  `InputRequiredResult`s, its callbacks answer them and the tools complete; a bridged call's
  progress notifications arrive in order before its result; a retry carrying a
  forged or foreign `requestState` is refused with -32602. `error`: the flavour cannot hold the
  call: the call fails with a JSON-RPC error naming the backend (never hangs past the gateway's
  timeout).
"""

import asyncio
import os
import time
from typing import Any

import httpx
import pytest

from mcp import Client
from mcp import types
from mcp.shared.exceptions import MCPError

MCP_URL = os.environ.get("MCP_URL", "")
EXPECT = os.environ.get("MCP_EXPECT", "bridged")

pytestmark = pytest.mark.skipif(not MCP_URL, reason="MCP_URL is not set")

SAMPLED = "sampled for a 2026-07-28 client"
ELICITED = "Ada Bridged"


class Asked:
    """What the client's callbacks were asked."""

    def __init__(self) -> None:
        self.sampling: list[str] = []
        self.elicitation: list[str] = []

    async def sample(self, _context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        prompt = getattr(params.messages[0].content, "text", "")
        self.sampling.append(prompt)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=f"{SAMPLED}: {prompt}"),
            model="test-model",
            stop_reason="endTurn",
        )

    async def elicit(self, _context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.elicitation.append(getattr(params, "message", ""))
        return types.ElicitResult(action="accept", content={"name": ELICITED, "check": True})


async def connect(asked: Asked) -> Client:
    return Client(MCP_URL, mode="auto", cache=None, read_timeout_seconds=30,
                  sampling_callback=asked.sample, elicitation_callback=asked.elicit)


def text_of(result: types.CallToolResult) -> str:
    assert not result.is_error, result
    return "\n".join(getattr(block, "text", "") or "" for block in result.content)


@pytest.mark.skipif(EXPECT != "bridged", reason="the flavour bridges")
def test_sampling_and_elicitation_reach_the_2026_client_and_the_tools_complete() -> None:
    asked = Asked()

    async def run() -> tuple[str, str]:
        async with await connect(asked) as client:
            assert client.protocol_version == "2026-07-28", client.protocol_version
            sampled = await client.call_tool("everything_trigger-sampling-request",
                                             {"prompt": "bridge me", "maxTokens": 20})
            elicited = await client.call_tool("everything_trigger-elicitation-request", {})
            return text_of(sampled), text_of(elicited)

    sampled, elicited = asyncio.run(run())
    assert asked.sampling and "bridge me" in asked.sampling[0], asked.sampling
    assert SAMPLED in sampled and "bridge me" in sampled, sampled
    assert len(asked.elicitation) == 1, asked.elicitation
    assert ELICITED in elicited, elicited


@pytest.mark.skipif(EXPECT != "bridged", reason="the flavour bridges")
def test_progress_of_a_bridged_call_arrives_in_order_before_the_result() -> None:
    seen: list[tuple[float, float | None]] = []

    async def progress(value: float, total: float | None, _message: str | None) -> None:
        seen.append((value, total))

    async def run() -> str:
        async with await connect(Asked()) as client:
            result = await client.call_tool("everything_trigger-long-running-operation",
                                            {"duration": 1, "steps": 4}, progress_callback=progress)
            # Every notification was handled before the result came back.
            assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)], seen
            return text_of(result)

    assert "Long running operation completed" in asyncio.run(run())


@pytest.mark.skipif(EXPECT != "bridged", reason="the flavour bridges")
def test_a_forged_request_state_is_refused() -> None:
    async def run() -> dict[str, Any]:
        # The client's discovery first teaches the gateway that the backend is session-based.
        async with await connect(Asked()):
            pass
        headers = {"accept": "application/json, text/event-stream",
                   "mcp-protocol-version": "2026-07-28", "mcp-method": "tools/call",
                   "mcp-name": "everything_trigger-sampling-request"}
        body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call",
                "params": {"name": "everything_trigger-sampling-request",
                           "arguments": {"prompt": "x", "maxTokens": 5},
                           "inputResponses": {"input-1": {}}, "requestState": "mcpgw1.forged",
                           "_meta": {"io.modelcontextprotocol/clientCapabilities": {"sampling": {}}}}}
        async with httpx.AsyncClient(timeout=10) as http:
            response = await http.post(MCP_URL, json=body, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()

    answer = asyncio.run(run())
    assert answer["id"] == 7 and answer["error"]["code"] == -32602, answer
    assert "requestState" in answer["error"]["message"], answer


@pytest.mark.skipif(EXPECT != "error", reason="the flavour cannot hold the call")
def test_the_call_fails_with_a_json_rpc_error() -> None:
    async def run() -> None:
        async with await connect(Asked()) as client:
            assert client.protocol_version == "2026-07-28", client.protocol_version
            with pytest.raises(MCPError) as failed:
                await client.call_tool("everything_trigger-sampling-request",
                                       {"prompt": "hold me", "maxTokens": 20})
            assert failed.value.code == -32603, failed.value
            assert "everything" in failed.value.message, failed.value

    started = time.monotonic()
    asyncio.run(run())
    assert time.monotonic() - started < 25
