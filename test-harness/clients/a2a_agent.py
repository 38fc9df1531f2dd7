"""A real a2a-sdk 1.3 agent that echoes what it is sent, for the e2e tests and scripts/demo.

It serves the JSON-RPC binding at `/` and the HTTP+JSON binding at `/rest`, with v0.3
compatibility on both, and an agent card at /.well-known/agent-card.json (plus the legacy
/.well-known/agent.json) whose URLs point at the agent itself: a gateway in front must rewrite them.

Each message becomes a task that streams a working status, one artifact chunk per word, then
completes, so a streaming client sees several events.

Prints `READY <port>` on stdout once it accepts connections (port 0 picks a free one).
"""

import argparse
import asyncio

from starlette.applications import Starlette

from a2a.helpers import new_task_from_user_message, new_text_message, new_text_part
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import (
    create_agent_card_routes,
    create_jsonrpc_routes,
    create_rest_routes,
)
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types.a2a_pb2 import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentProvider,
    AgentSkill,
    Role,
)

from serve import bind, serve

LEGACY_CARD_PATH = "/.well-known/agent.json"
REST_PREFIX = "/rest"


class EchoExecutor(AgentExecutor):
    """Answers every message with its own text, one artifact chunk per word."""

    def __init__(self, word_delay: float) -> None:
        self.word_delay = word_delay

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        task = context.current_task or new_task_from_user_message(context.message)
        if context.current_task is None:
            await event_queue.enqueue_event(task)
        updater = TaskUpdater(event_queue, task.id, task.context_id)
        await updater.start_work(
            new_text_message("echoing", context_id=task.context_id, task_id=task.id, role=Role.ROLE_AGENT)
        )
        words = context.get_user_input().split() or [""]
        for index, word in enumerate(words):
            await asyncio.sleep(self.word_delay)
            last = index == len(words) - 1
            await updater.add_artifact(
                [new_text_part(word if index == 0 else " " + word)],
                artifact_id="echo",
                name="echo",
                append=index > 0,
                last_chunk=last,
            )
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        updater = TaskUpdater(event_queue, context.task_id, context.context_id)
        await updater.cancel()


def agent_card(base_url: str) -> AgentCard:
    """The card, with every interface URL under the agent's own base URL."""
    interfaces = [
        AgentInterface(url=f"{base_url}/", protocol_binding="JSONRPC", protocol_version=version)
        for version in ("1.0", "0.3")
    ] + [
        AgentInterface(url=f"{base_url}{REST_PREFIX}", protocol_binding="HTTP+JSON", protocol_version=version)
        for version in ("1.0", "0.3")
    ]
    return AgentCard(
        name="echo",
        description="Echoes every message back, word by word.",
        version="1.0.0",
        supported_interfaces=interfaces,
        provider=AgentProvider(organization="ai-gateway tests", url="https://example.com/provider"),
        documentation_url="https://example.com/docs/echo",
        capabilities=AgentCapabilities(streaming=True),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[
            AgentSkill(
                id="echo",
                name="Echo",
                description="Repeats the input.",
                tags=["echo"],
                examples=["hello world"],
            )
        ],
    )


def build_app(base_url: str, word_delay: float) -> Starlette:
    card = agent_card(base_url)
    handler = DefaultRequestHandler(
        agent_executor=EchoExecutor(word_delay),
        task_store=InMemoryTaskStore(),
        agent_card=card,
    )
    routes = (
        create_agent_card_routes(card)
        + create_agent_card_routes(card, card_url=LEGACY_CARD_PATH)
        + create_jsonrpc_routes(handler, rpc_url="/", enable_v0_3_compat=True)
        + create_rest_routes(handler, enable_v0_3_compat=True, path_prefix=REST_PREFIX)
    )
    return Starlette(routes=routes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--word-delay", type=float, default=0.05, help="seconds between streamed words")
    args = parser.parse_args()

    # Bind first, so the card can carry the real port even when it was picked by the kernel.
    sock, port = bind(args.host, args.port)
    serve(build_app(f"http://{args.host}:{port}", args.word_delay), sock, port)


if __name__ == "__main__":
    main()
