"""`subscriptions/listen` (2026-07-28) through the MCP gateway, with the official `mcp` client in
automatic mode (it negotiates 2026-07-28 with the gateway), in front of the Python session
backend (which speaks 2026-07-28: its own listen stream) and server-everything (session-based:
the gateway listens on its GET stream).

- MCP_URL: the gateway's endpoint.
- MCP_LISTEN: what the gateway promises:
  `merged`: every backend's changes reach the one listen stream — a tool-list change from the
  Python backend and a resource-list change from server-everything (its `gzip-file-as-resource`
  adds a resource to its session);
  `routed`: one backend's stream (the Python backend's tool-list change);
  `refused`: the method is not served (-32601), said before any stream opens.
"""

import asyncio
import os
from typing import Any

import pytest

from mcp import Client
from mcp.client.subscriptions import ResourcesListChanged, Subscription, ToolsListChanged
from mcp.shared.exceptions import MCPError

MCP_URL = os.environ.get("MCP_URL", "")
EXPECT = os.environ.get("MCP_LISTEN", "merged")

pytestmark = pytest.mark.skipif(not MCP_URL, reason="MCP_URL is not set")

# A data URI, so server-everything fetches nothing from the network.
GZIP_ARGS = {"name": "listen.txt.gz", "data": "data:text/plain;base64,aGVsbG8gbGlzdGVu"}


async def next_event(sub: Subscription, seconds: float) -> Any:
    """The next change event, or None when none comes within `seconds`."""
    try:
        return await asyncio.wait_for(sub.__anext__(), seconds)
    except asyncio.TimeoutError:
        return None


async def quiet(sub: Subscription) -> None:
    """Nothing arrives unprompted: what follows is caused by the test's calls."""
    assert await next_event(sub, 1.0) is None


def test_listen() -> None:
    async def run() -> None:
        async with Client(MCP_URL, mode="auto", cache=None, read_timeout_seconds=20) as client:
            assert client.protocol_version == "2026-07-28", client.protocol_version
            if EXPECT == "refused":
                with pytest.raises(MCPError) as refused:
                    async with client.listen(tools_list_changed=True):
                        pass
                assert refused.value.code == -32601, refused.value
                assert "subscriptions/listen" in refused.value.message
                return
            async with client.listen(tools_list_changed=True, resources_list_changed=True) as sub:
                assert sub.honored.tools_list_changed and sub.honored.resources_list_changed, sub.honored
                await quiet(sub)
                result = await client.call_tool("session_announce_tools_changed", {})
                assert not result.is_error, result
                assert isinstance(await next_event(sub, 10), ToolsListChanged)
                if EXPECT == "merged":
                    await quiet(sub)
                    result = await client.call_tool("everything_gzip-file-as-resource", GZIP_ARGS)
                    assert not result.is_error, result
                    assert isinstance(await next_event(sub, 10), ResourcesListChanged)

    asyncio.run(run())
