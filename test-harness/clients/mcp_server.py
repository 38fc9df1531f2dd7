"""A real MCP server (official `mcp` SDK 2.x, `MCPServer`) for the MCP gateway's e2e tests.

Two flavours from one script, chosen with --mode:
- `session`: Streamable HTTP with sessions (initialize, `Mcp-Session-Id`, 2025-11-25 and older);
- `stateless`: the SDK's stateless HTTP mode (no `Mcp-Session-Id` on the handshake era either).
Both also answer the 2026-07-28 stateless wire (`server/discover`, per-request `MCP-Protocol-Version`):
the SDK serves it on every Streamable HTTP app, whatever the mode.

Each flavour has `echo` (the same name on both, and on server-everything, so a gateway must
prefix it), one tool of its own, one prompt, one resource and one resource template; every
answer names the flavour so a test can tell which backend served a call. `ask_name` elicits a
name from the client (mid-call in the session-based protocol, as a multi-round-trip
`InputRequiredResult` in 2026-07-28). The session flavour
also has `wait` and `cancellations`, to see a client's `notifications/cancelled` arrive, and
`progress_burst`, to stream many progress notifications before a late result, and
`announce_tools_changed`, which notifies on the session's GET stream and, for 2026-07-28
clients, on every `subscriptions/listen` stream.

Serves at /mcp and prints `READY <port>` on stdout once it accepts connections (port 0 picks a
free one).
"""

import argparse
from typing import Annotated

import anyio
from pydantic import BaseModel
from mcp.server.mcpserver import Context, Elicit, MCPServer, Resolve
from mcp.server.transport_security import TransportSecuritySettings

from serve import bind, serve

MCP_PATH = "/mcp"


class Name(BaseModel):
    """What `ask_name` elicits."""

    name: str


def build_server(mode: str) -> MCPServer:
    """The MCP server for `mode` ("session" or "stateless")."""
    server = MCPServer(
        name=f"py-{mode}",
        version="1.0.0",
        instructions=f"Test backend ({mode}): echo, a tool of its own, a prompt and notes.",
    )

    @server.tool(description="Returns the message, tagged with the backend that served it.")
    def echo(message: str) -> str:
        return f"{mode}: {message}"

    if mode == "session":

        @server.tool(description="Adds two integers.")
        def add(a: int, b: int) -> int:
            return a + b

        cancelled: list[str] = []

        @server.tool(description="Waits `seconds`, unless the client cancels the call.")
        async def wait(seconds: float, ctx: Context) -> str:
            try:
                await anyio.sleep(seconds)
            except anyio.get_cancelled_exc_class():
                cancelled.append(str(ctx.request_id))
                raise
            return f"{mode}: waited {seconds}s"

        @server.tool(description="The ids of the calls the client cancelled, oldest first.")
        def cancellations() -> str:
            return ",".join(cancelled) or "none"

        @server.tool(description="Tells listening clients that the tools changed.")
        async def announce_tools_changed(ctx: Context) -> str:
            # The session's GET stream (dropped by the SDK for a 2026-07-28 request)...
            await ctx.session.send_tool_list_changed()
            # ...and the 2026-07-28 listen streams.
            await ctx.notify_tools_changed()
            return f"{mode}: announced"

        @server.tool(description="Reports `count` progress steps, waits `pause` seconds, ends.")
        async def progress_burst(count: int, pause: float, ctx: Context) -> str:
            for step in range(1, count + 1):
                await ctx.report_progress(step, count, f"step {step}")
            await anyio.sleep(pause)
            return f"{mode}: {count} steps reported"

        @server.prompt(description="Asks for a greeting in a given style.")
        def greeting(name: str, style: str = "friendly") -> str:
            return f"[{mode}] Write a {style} greeting for {name}."

    else:

        @server.tool(description="Upper-cases the text.")
        def shout(text: str) -> str:
            return text.upper()

        @server.prompt(description="Asks for a review of a piece of code.")
        def review(code: str) -> str:
            return f"[{mode}] Review this code:\n{code}"

    def who() -> Elicit[Name]:
        return Elicit("Who is asking?", Name)

    @server.tool(description="Asks the client for a name (elicitation), then greets it.")
    async def ask_name(name: Annotated[Name, Resolve(who)]) -> str:
        return f"{mode}: hello {name.name}"

    @server.resource(f"notes://{mode}/readme", name=f"{mode}-readme", mime_type="text/plain")
    def readme() -> str:
        return f"readme of the {mode} backend"

    @server.resource(f"notes://{mode}/topics/{{topic}}", name=f"{mode}-topic", mime_type="text/plain")
    def topic(topic: str) -> str:
        return f"{mode} notes on {topic}"

    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["session", "stateless"], required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()

    app = build_server(args.mode).streamable_http_app(
        streamable_http_path=MCP_PATH,
        stateless_http=args.mode == "stateless",
        # The SDK turns on Host/Origin checks for 127.0.0.1; behind the gateway the Host is
        # Envoy's, and Origin checks are the gateway's job, so the test backend accepts any.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )

    # Bind first, so the READY line carries the real port even when the kernel picked it.
    sock, port = bind(args.host, args.port)
    serve(app, sock, port)


if __name__ == "__main__":
    main()
