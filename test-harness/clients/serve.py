"""Serving an ASGI app for the tests: bind first, then announce `READY <port>` once it accepts.

The harness reads that line to learn the port (0 lets the kernel pick one); binding before the
app is built lets an app that must know its own URL (an agent card) carry the real port.
"""

import asyncio
import socket

import uvicorn


def bind(host: str, port: int) -> tuple[socket.socket, int]:
    """A listening-ready socket on host:port and the port it got."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock, sock.getsockname()[1]


def serve(app, sock: socket.socket, port: int) -> None:
    """Runs `app` on `sock` until killed; prints `READY <port>` once uvicorn has started."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))

    async def run() -> None:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.02)
        print(f"READY {port}", flush=True)
        await serving

    asyncio.run(run())
