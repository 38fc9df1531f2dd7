"""The official `mcp` SDK client against the gateway's MCP endpoint behind the `authz` filter.

- MCP_URL: the gateway's MCP endpoint, which is also the protected resource's identifier.
- MCP_ISSUER: the authorization server the metadata must name.
- MCP_TOKEN: a token with the `mcp:tools` scope; MCP_TOKEN_NO_SCOPE: a valid token without it.
- MCP_TOOL: a tool (as the gateway names it) that `echo`es its `message`.
- MCP_HIDDEN_TOOL: a tool of the backend that a policy refuses: neither listed nor callable.
- MCP_DENIED_CODE: the JSON-RPC error code of a call a policy refuses.
"""

import asyncio
import os

import httpx2
import pytest

from mcp import Client
from mcp.client.auth.utils import (build_protected_resource_metadata_discovery_urls,
                                   extract_field_from_www_auth,
                                   extract_resource_metadata_from_www_auth,
                                   extract_scope_from_www_auth,
                                   handle_protected_resource_response)
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError

MCP_URL = os.environ.get("MCP_URL", "")
ISSUER = os.environ.get("MCP_ISSUER", "")
TOKEN = os.environ.get("MCP_TOKEN", "")
TOKEN_NO_SCOPE = os.environ.get("MCP_TOKEN_NO_SCOPE", "")
TOOL = os.environ.get("MCP_TOOL", "")
HIDDEN_TOOL = os.environ.get("MCP_HIDDEN_TOOL", "")
DENIED_CODE = int(os.environ.get("MCP_DENIED_CODE", "0"))

pytestmark = pytest.mark.skipif(not MCP_URL, reason="MCP_URL is not set")

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {},
               "clientInfo": {"name": "auth-test", "version": "1"}},
}
HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def post_initialize(token: str | None) -> httpx2.Response:
    headers = dict(HEADERS)
    if token:
        headers["authorization"] = f"Bearer {token}"
    return httpx2.post(MCP_URL, json=INITIALIZE, headers=headers, timeout=20)


def test_without_token_401_leads_to_the_protected_resource_metadata() -> None:
    response = post_initialize(None)
    assert response.status_code == 401
    metadata_url = extract_resource_metadata_from_www_auth(response)
    assert metadata_url, response.headers.get("www-authenticate")
    # The SDK tries the header's URL first, then the well-known URLs; the first must answer.
    urls = build_protected_resource_metadata_discovery_urls(metadata_url, MCP_URL)
    assert urls[0] == metadata_url

    async def discover():
        async with httpx2.AsyncClient(timeout=20) as client:
            return await handle_protected_resource_response(await client.get(metadata_url))

    metadata = asyncio.run(discover())
    assert metadata is not None, "the SDK accepts the document as RFC 9728 metadata"
    assert str(metadata.resource) == MCP_URL
    assert [str(server).rstrip("/") for server in metadata.authorization_servers] == [ISSUER]
    assert metadata.scopes_supported == ["mcp:tools"]
    assert metadata.bearer_methods_supported == ["header"]
    # The well-known fallback of the SDK (path-suffixed form) serves the same document.
    for url in urls[1:]:
        fallback = httpx2.get(url, timeout=20)
        if fallback.status_code == 200:
            assert fallback.json()["resource"] == MCP_URL


def test_token_without_the_scope_is_refused_with_insufficient_scope() -> None:
    response = post_initialize(TOKEN_NO_SCOPE)
    assert response.status_code == 403
    assert extract_field_from_www_auth(response, "error") == "insufficient_scope"
    assert extract_scope_from_www_auth(response) == "mcp:tools"
    assert extract_resource_metadata_from_www_auth(response)


def test_sdk_client_with_a_bearer_token_lists_and_calls_tools() -> None:
    async def run() -> tuple[list[str], str]:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx2.AsyncClient(headers=headers, timeout=20) as http:
            transport = streamable_http_client(MCP_URL, http_client=http)
            async with Client(transport, mode="legacy", cache=None, read_timeout_seconds=20) as client:
                tools = [tool.name for tool in (await client.list_tools()).tools]
                result = await client.call_tool(TOOL, {"message": "hello through authz"})
                text = "\n".join(getattr(block, "text", "") or "" for block in result.content)
                return tools, text

    tools, text = asyncio.run(run())
    assert TOOL in tools, tools
    assert "hello through authz" in text


def test_a_refused_tool_is_not_listed_and_its_call_fails() -> None:
    async def run() -> tuple[list[str], BaseException | None]:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx2.AsyncClient(headers=headers, timeout=20) as http:
            transport = streamable_http_client(MCP_URL, http_client=http)
            async with Client(transport, mode="legacy", cache=None, read_timeout_seconds=20) as client:
                tools = [tool.name for tool in (await client.list_tools()).tools]
                try:
                    await client.call_tool(HIDDEN_TOOL, {"text": "hi"})
                except MCPError as refused:
                    # The session survives a refused call: the next call still works.
                    await client.call_tool(TOOL, {"message": "still here"})
                    return tools, refused
                return tools, None

    tools, refused = asyncio.run(run())
    assert HIDDEN_TOOL and HIDDEN_TOOL not in tools, tools
    assert TOOL in tools, tools
    assert refused is not None, "the refused tool was called"
    assert refused.code == DENIED_CODE, refused
    assert refused.data == {"policy": "no-shouting"}, refused
