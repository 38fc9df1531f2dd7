"""The official `mcp` SDK client (`mcp.Client` over Streamable HTTP) against one MCP endpoint.

The endpoint is a backend today and the gateway later, so nothing here knows a name: what must
be there comes from the environment.

- MCP_URL: the endpoint, e.g. http://127.0.0.1:8000/mcp.
- MCP_EXPECT: a JSON object:
    tools / prompts / resources / templates: names, URIs and URI templates that must be listed
        (others may be listed too);
    calls: [{"tool", "arguments", "text"}]: each call must succeed with `text` in its text content;
    reads: [{"uri", "text"}]: each read must return `text` in its contents;
    prompt_gets: [{"name", "arguments", "text"}]: each prompt's messages must contain `text`;
    protocol: {"auto": version, "legacy": version}: the version each mode must negotiate
        (optional per mode).
- MCP_MODES: comma-separated connect modes to run, default "auto,legacy". `auto` lets the SDK
  probe `server/discover` (2026-07-28) and fall back to initialize; `legacy` forces the
  initialize handshake (session-based protocol); a modern version such as `2026-07-28` adopts it
  without probing (and fails against a server that does not speak it).
"""

import asyncio
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from mcp import Client

MCP_URL = os.environ.get("MCP_URL", "")
EXPECT: dict[str, Any] = json.loads(os.environ.get("MCP_EXPECT", "{}"))
MODES = [mode for mode in os.environ.get("MCP_MODES", "auto,legacy").split(",") if mode]

pytestmark = pytest.mark.skipif(not MCP_URL, reason="MCP_URL is not set")

T = TypeVar("T")


def with_client(mode: str, use: Callable[[Client], Awaitable[T]]) -> T:
    """Connects in `mode` and runs `use` on the client."""

    async def run() -> T:
        # cache=None: every list goes to the server (the default honours 2026-07-28 ttl hints).
        async with Client(MCP_URL, mode=mode, cache=None, read_timeout_seconds=20) as client:
            return await use(client)

    return asyncio.run(run())


def texts(blocks: list[Any]) -> str:
    """The text of every text block or text resource content, joined."""
    return "\n".join(getattr(block, "text", "") or "" for block in blocks)


def missing(expected: list[str], listed: list[str]) -> list[str]:
    return sorted(set(expected) - set(listed))


def cases(key: str) -> list[Any]:
    """(mode, item) pairs for the items of MCP_EXPECT[key], so each is its own test."""
    return [pytest.param(mode, item, id=f"{mode}-{index}") for mode in MODES for index, item in enumerate(EXPECT.get(key, []))]


@pytest.mark.parametrize("mode", MODES)
def test_negotiates_expected_protocol(mode: str) -> None:
    async def version(client: Client) -> str:
        return client.protocol_version

    negotiated = with_client(mode, version)
    expected = EXPECT.get("protocol", {}).get(mode)
    if expected is not None:
        assert negotiated == expected
    if mode == "legacy":
        assert not negotiated.startswith("2026"), negotiated


@pytest.mark.parametrize("mode", MODES)
def test_lists_tools(mode: str) -> None:
    async def names(client: Client) -> list[str]:
        return [tool.name for tool in (await client.list_tools()).tools]

    listed = with_client(mode, names)
    assert missing(EXPECT.get("tools", []), listed) == [], listed


@pytest.mark.parametrize("mode", MODES)
def test_lists_prompts(mode: str) -> None:
    async def names(client: Client) -> list[str]:
        return [prompt.name for prompt in (await client.list_prompts()).prompts]

    listed = with_client(mode, names)
    assert missing(EXPECT.get("prompts", []), listed) == [], listed


@pytest.mark.parametrize("mode", MODES)
def test_lists_resources_and_templates(mode: str) -> None:
    async def uris(client: Client) -> tuple[list[str], list[str]]:
        resources = [str(resource.uri) for resource in (await client.list_resources()).resources]
        templates = [t.uri_template for t in (await client.list_resource_templates()).resource_templates]
        return resources, templates

    resources, templates = with_client(mode, uris)
    assert missing(EXPECT.get("resources", []), resources) == [], resources
    assert missing(EXPECT.get("templates", []), templates) == [], templates


@pytest.mark.parametrize(("mode", "call"), cases("calls"))
def test_calls_tool(mode: str, call: dict[str, Any]) -> None:
    async def run(client: Client) -> Any:
        return await client.call_tool(call["tool"], call.get("arguments", {}))

    result = with_client(mode, run)
    assert not result.is_error, result
    assert call["text"] in texts(result.content), result


@pytest.mark.parametrize(("mode", "read"), cases("reads"))
def test_reads_resource(mode: str, read: dict[str, Any]) -> None:
    async def run(client: Client) -> Any:
        return await client.read_resource(read["uri"])

    result = with_client(mode, run)
    assert read["text"] in texts(result.contents), result


@pytest.mark.parametrize(("mode", "get"), cases("prompt_gets"))
def test_gets_prompt(mode: str, get: dict[str, Any]) -> None:
    async def run(client: Client) -> Any:
        return await client.get_prompt(get["name"], get.get("arguments", {}))

    result = with_client(mode, run)
    assert get["text"] in texts([message.content for message in result.messages]), result


def test_expectations_are_not_empty() -> None:
    """A run with nothing to check must not pass silently."""
    for key in ("tools", "prompts", "resources", "calls", "reads", "prompt_gets"):
        assert EXPECT.get(key), f"MCP_EXPECT has no {key}"
