"""The official `mcp` SDK client answering what a server asks of it (sampling and elicitation
mid-call, roots on the GET stream) and receiving progress, through one MCP endpoint in front of
@modelcontextprotocol/server-everything.

- MCP_URL: the endpoint, e.g. http://127.0.0.1:10000/mcp.
- MCP_PREFIX: what the endpoint puts before server-everything's tool names (e.g. `everything_`,
  empty when talking to server-everything directly).
- MCP_MODES: comma-separated connect modes, default "legacy" (the session-based protocol,
  where server→client requests travel inside the call's SSE answer).
"""

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from mcp import Client
from mcp import types

MCP_URL = os.environ.get("MCP_URL", "")
PREFIX = os.environ.get("MCP_PREFIX", "")
MODES = [mode for mode in os.environ.get("MCP_MODES", "legacy").split(",") if mode]

pytestmark = pytest.mark.skipif(not MCP_URL, reason="MCP_URL is not set")

T = TypeVar("T")

SAMPLED_TEXT = "sampled through the gateway"
ELICITED_NAME = "Ada Gateway"
ROOT_URI = "file:///srv/gateway-root"


async def sample(_context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    """The client's 'model': answers with a fixed text naming the prompt it got."""
    asked = params.messages[0].content
    return types.CreateMessageResult(
        role="assistant",
        content=types.TextContent(type="text", text=f"{SAMPLED_TEXT}: {getattr(asked, 'text', '')}"),
        model="test-model",
        stop_reason="endTurn",
    )


async def elicit(_context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
    """The client's 'user': accepts, filling the required name."""
    return types.ElicitResult(action="accept", content={"name": ELICITED_NAME, "check": True})


async def roots(_context: Any) -> types.ListRootsResult:
    """The client's workspace: one root."""
    return types.ListRootsResult(roots=[types.Root(uri=ROOT_URI, name="gateway-root")])


def with_client(mode: str, use: Callable[[Client], Awaitable[T]]) -> T:
    async def run() -> T:
        async with Client(MCP_URL, mode=mode, cache=None, read_timeout_seconds=30,
                          sampling_callback=sample, elicitation_callback=elicit,
                          list_roots_callback=roots) as client:
            return await use(client)

    return asyncio.run(run())


def text_of(result: types.CallToolResult) -> str:
    assert not result.is_error, result
    return "\n".join(getattr(block, "text", "") or "" for block in result.content)


@pytest.mark.parametrize("mode", MODES)
def test_a_sampling_request_is_answered_by_the_client(mode: str) -> None:
    async def use(client: Client) -> str:
        result = await client.call_tool(f"{PREFIX}trigger-sampling-request",
                                        {"prompt": "relay me", "maxTokens": 20})
        return text_of(result)

    text = with_client(mode, use)
    assert SAMPLED_TEXT in text and "relay me" in text, text


@pytest.mark.parametrize("mode", MODES)
def test_an_elicitation_request_is_answered_by_the_client(mode: str) -> None:
    async def use(client: Client) -> str:
        return text_of(await client.call_tool(f"{PREFIX}trigger-elicitation-request", {}))

    text = with_client(mode, use)
    assert ELICITED_NAME in text, text


@pytest.mark.parametrize("mode", MODES)
def test_progress_arrives_in_order_before_the_result(mode: str) -> None:
    seen: list[tuple[float, float | None]] = []

    async def progress(value: float, total: float | None, _message: str | None) -> None:
        seen.append((value, total))

    async def use(client: Client) -> str:
        result = await client.call_tool(f"{PREFIX}trigger-long-running-operation",
                                        {"duration": 1, "steps": 4}, progress_callback=progress)
        # Every notification was handled before the result came back.
        assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)], seen
        return text_of(result)

    text = with_client(mode, use)
    assert "Long running operation completed" in text, text


@pytest.mark.parametrize("mode", MODES)
def test_the_servers_roots_request_on_the_get_stream_is_answered(mode: str) -> None:
    async def use(client: Client) -> str:
        return text_of(await client.call_tool(f"{PREFIX}get-roots-list", {}))

    text = with_client(mode, use)
    assert ROOT_URI in text, text
