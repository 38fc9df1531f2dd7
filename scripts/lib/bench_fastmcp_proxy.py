"""A FastMCP 4.1 proxy that mounts MCP backends under namespaces: the comparison point of
`scripts/bench mcp`. Runs with the FastMCP venv's Python (bench_mcp.py creates it).

    bench_fastmcp_proxy.py --port N --backend NAME=URL [--backend ...] [--reuse-sessions]

Each backend is `create_proxy(...)` mounted with `namespace=NAME`, so its tools are
`NAME_<tool>` as through the gateway. By default FastMCP's proxy builds a fresh backend client
(and session) for every request; --reuse-sessions hands it one already-connected client per
backend instead, which FastMCP then reuses for all requests (its documented opt-in). Serves
Streamable HTTP on 127.0.0.1:N/mcp.
"""

import argparse
import asyncio
import contextlib

from fastmcp import Client, FastMCP
from fastmcp.server import create_proxy


def backend(text: str) -> tuple[str, str]:
    name, sep, url = text.partition("=")
    if not sep or not name or not url:
        raise argparse.ArgumentTypeError(f"expected NAME=URL, got {text!r}")
    return name, url


async def serve(args: argparse.Namespace) -> None:
    server = FastMCP("fastmcp-bench-proxy")
    async with contextlib.AsyncExitStack() as stack:
        for name, url in args.backend:
            target: Client | str = url
            if args.reuse_sessions:
                # The bench client speaks the handshake era; the shared backend session does too.
                target = await stack.enter_async_context(Client(url, mode="legacy"))
            server.mount(create_proxy(target), namespace=name)
        await server.run_http_async(show_banner=False, host="127.0.0.1", port=args.port,
                                    log_level="warning", path="/mcp")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", type=backend, action="append", required=True)
    parser.add_argument("--reuse-sessions", action="store_true")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
