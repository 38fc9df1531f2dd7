"""The official a2a-sdk client talking to an agent through the gateway.

GATEWAY_URL is the agent's base URL on the gateway, e.g. http://127.0.0.1:10000/a2a/demo.
The agent behind it (a2a_agent.py) advertises its own address; these tests pass only when
the gateway rewrote every URL in the card and the whole exchange went through the gateway.
"""

import asyncio
import os
import uuid

import httpx
import pytest

from a2a.client import A2ACardResolver, ClientConfig, ClientFactory
from a2a.types.a2a_pb2 import Message, Part, Role, SendMessageRequest, TaskState

GATEWAY_URL = os.environ.get("GATEWAY_URL", "").rstrip("/")
CARD_PATHS = ["/.well-known/agent-card.json", "/.well-known/agent.json"]
TEXT = "hello through the gateway"

pytestmark = pytest.mark.skipif(not GATEWAY_URL, reason="GATEWAY_URL is not set")


def card_urls(raw: dict) -> list[str]:
    """Every URL a client may call, from both the v1.0 and the v0.3 fields of a raw card."""
    urls = [iface["url"] for iface in raw.get("supportedInterfaces", [])]
    if "url" in raw:
        urls.append(raw["url"])
    urls += [iface["url"] for iface in raw.get("additionalInterfaces", [])]
    return urls


def on_gateway(url: str) -> bool:
    return url == GATEWAY_URL or url.startswith(GATEWAY_URL + "/")


@pytest.mark.parametrize("path", CARD_PATHS)
def test_raw_card_has_only_gateway_urls(path: str) -> None:
    response = httpx.get(GATEWAY_URL + path, timeout=10)
    response.raise_for_status()
    raw = response.json()
    urls = card_urls(raw)
    # The demo agent advertises four v1.0 interfaces plus the v0.3 url and one additional one.
    assert len(urls) == 6, raw
    assert [u for u in urls if not on_gateway(u)] == [], raw
    # Paths survive under the route prefix: the REST binding lives at <agent>/rest.
    assert GATEWAY_URL + "/rest" in urls, urls
    # URLs that are not the agent's own endpoints are left alone.
    assert raw["provider"]["url"] == "https://example.com/provider"
    assert raw["documentationUrl"] == "https://example.com/docs/echo"


def test_sdk_resolver_sees_only_gateway_urls() -> None:
    async def resolve():
        async with httpx.AsyncClient(timeout=10) as http:
            return await A2ACardResolver(http, GATEWAY_URL).get_agent_card()

    card = asyncio.run(resolve())
    assert card.name == "echo"
    urls = [iface.url for iface in card.supported_interfaces]
    assert urls and [u for u in urls if not on_gateway(u)] == [], urls


async def exchange(streaming: bool, binding: str) -> tuple[list, list[str]]:
    """Sends TEXT with the SDK client; returns the events and every URL the client requested."""
    requested: list[str] = []

    async def record(request: httpx.Request) -> None:
        requested.append(str(request.url))

    async with httpx.AsyncClient(timeout=30, event_hooks={"request": [record]}) as http:
        card = await A2ACardResolver(http, GATEWAY_URL).get_agent_card()
        config = ClientConfig(
            streaming=streaming,
            httpx_client=http,
            supported_protocol_bindings=[binding],
            use_client_preference=True,
        )
        client = ClientFactory(config).create(card)
        message = Message(
            role=Role.ROLE_USER,
            message_id=str(uuid.uuid4()),
            parts=[Part(text=TEXT)],
        )
        events = [event async for event in client.send_message(SendMessageRequest(message=message))]
    return events, requested


def echoed_text(task) -> str:
    return "".join(part.text for artifact in task.artifacts for part in artifact.parts)


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
def test_non_streaming_exchange(binding: str) -> None:
    events, requested = asyncio.run(exchange(streaming=False, binding=binding))
    assert [u for u in requested if not on_gateway(u)] == [], requested
    assert len(events) == 1
    task = events[0].task
    assert task.status.state == TaskState.TASK_STATE_COMPLETED, task
    assert echoed_text(task) == TEXT


@pytest.mark.parametrize("binding", ["JSONRPC", "HTTP+JSON"])
def test_streaming_exchange(binding: str) -> None:
    events, requested = asyncio.run(exchange(streaming=True, binding=binding))
    assert [u for u in requested if not on_gateway(u)] == [], requested
    kinds = [event.WhichOneof("payload") for event in events]
    # task, working status, one artifact update per word, completed status.
    assert kinds.count("artifact_update") == len(TEXT.split()), kinds
    streamed = "".join(
        part.text for event in events if event.HasField("artifact_update") for part in event.artifact_update.artifact.parts
    )
    assert streamed == TEXT
    final = [event.status_update for event in events if event.HasField("status_update")][-1]
    assert final.status.state == TaskState.TASK_STATE_COMPLETED
