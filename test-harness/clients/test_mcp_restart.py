"""The official `mcp` SDK client keeps its session while the gateway in front of it restarts.

One `mcp.Client` in legacy mode (initialize handshake, `Mcp-Session-Id`) calls tools, then waits
while the test restarts the gateway process on the same address, then lists tools and calls
them again on the same client. Every request the client sent is recorded: the session id
must never change and `initialize` must have been sent once, before the restart.

- MCP_URL: the gateway endpoint.
- MCP_RESTART_DIR: a directory; the client writes `paused` there and waits for `resumed`.
- MCP_EXPECT: {"tools": names that must be listed after the restart,
               "calls": [{"tool", "arguments", "text"}] made before and after the restart}.
"""

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Any

import httpx2
import pytest

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

MCP_URL = os.environ.get("MCP_URL", "")
RESTART_DIR = Path(os.environ.get("MCP_RESTART_DIR", "."))
EXPECT: dict[str, Any] = json.loads(os.environ.get("MCP_EXPECT", "{}"))
# The test restarts Envoy (which loads its filters again) in this time at most.
RESTART_WAIT_SECONDS = 90

pytestmark = pytest.mark.skipif(not MCP_URL, reason="MCP_URL is not set")


class Recorder:
    """Every POST the client sends: (JSON-RPC method or None, Mcp-Session-Id or None)."""

    def __init__(self) -> None:
        self.posts: list[tuple[str | None, str | None]] = []

    async def __call__(self, request: httpx2.Request) -> None:
        if request.method != "POST":
            return
        try:
            method = json.loads(request.content).get("method")
        except ValueError:
            method = None
        self.posts.append((method, request.headers.get("mcp-session-id")))


async def wait_for_restart() -> None:
    """Tells the test the client is idle mid-session, then waits until the gateway is back."""
    (RESTART_DIR / "paused").write_text("paused")
    deadline = time.monotonic() + RESTART_WAIT_SECONDS
    while not (RESTART_DIR / "resumed").exists():
        assert time.monotonic() < deadline, "the gateway was not restarted in time"
        await asyncio.sleep(0.1)


async def call_all(client: Client, phase: str) -> None:
    for call in EXPECT["calls"]:
        result = await client.call_tool(call["tool"], call.get("arguments", {}))
        text = "\n".join(getattr(block, "text", "") or "" for block in result.content)
        assert not result.is_error, f"{phase}: {result}"
        assert call["text"] in text, f"{phase}: {result}"


def test_session_survives_gateway_restart() -> None:
    assert EXPECT.get("calls") and EXPECT.get("tools"), "MCP_EXPECT has no calls or tools"
    recorder = Recorder()

    async def run() -> list[str]:
        http = create_mcp_http_client()
        http.event_hooks["request"].append(recorder)
        transport = streamable_http_client(MCP_URL, http_client=http)
        async with http, Client(transport, mode="legacy", cache=None, read_timeout_seconds=20) as client:
            await call_all(client, "before the restart")
            await wait_for_restart()
            names = [tool.name for tool in (await client.list_tools()).tools]
            await call_all(client, "after the restart")
            return names

    listed = asyncio.run(run())
    assert sorted(set(EXPECT["tools"]) - set(listed)) == [], listed

    methods = [method for method, _ in recorder.posts]
    assert methods.count("initialize") == 1, methods
    assert methods[0] == "initialize", methods
    sessions = {session for method, session in recorder.posts[1:]}
    assert len(sessions) == 1 and None not in sessions, recorder.posts
    # The calls after the restart were sent, on that same session.
    assert methods.count("tools/call") == 2 * len(EXPECT["calls"]), methods
