"""Runs the gateway demo: Envoy with the filters on 127.0.0.1:$GATEWAY_PORT, demo upstreams behind it:
the a2a-sdk echo agent on /a2a/demo/ and three MCP servers (Python session-based, Python stateless,
npm server-everything) behind the mcp filter on /mcp."""

import base64
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from envoy_process import MCP_BACKENDS, EnvoyProcess, repo_root, start_mcp_backend, stop_child


def start_a2a_agent() -> tuple[subprocess.Popen, int]:
    """The a2a-sdk echo agent the tests use; it prints `READY <port>` once it listens."""
    agent = subprocess.Popen(
        [sys.executable, str(repo_root() / "test-harness/clients/a2a_agent.py"), "--port", "0"],
        stdout=subprocess.PIPE, text=True)
    for line in agent.stdout:
        if line.startswith("READY "):
            return agent, int(line.split()[1])
    raise SystemExit(f"a2a demo agent exited with status {agent.wait()}")


def mcp_lines(base: str, admin: int) -> str:
    """Ready-to-paste commands for the /mcp endpoint: curl with the session header, the SDK client."""
    accept = "-H 'content-type: application/json' -H 'accept: application/json, text/event-stream'"
    return f"""    initialize (prints the gateway's Mcp-Session-Id):
      SID=$(curl -s -D - -o /dev/null {accept} {base}/mcp \\
        -d '{{"jsonrpc":"2.0","id":1,"method":"initialize","params":{{"protocolVersion":"2025-11-25",
            "capabilities":{{}},"clientInfo":{{"name":"curl","version":"1"}}}}}}' \\
        | tr -d '\\r' | awk -F': ' 'tolower($1)=="mcp-session-id"{{print $2}}'); echo "$SID"
    tools/list:
      curl -s {accept} -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25' {base}/mcp \\
        -d '{{"jsonrpc":"2.0","id":2,"method":"tools/list"}}'
    tools/call:
      curl -s {accept} -H "Mcp-Session-Id: $SID" -H 'MCP-Protocol-Version: 2025-11-25' {base}/mcp \\
        -d '{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{{"name":"session_add",
            "arguments":{{"a":2,"b":3}}}}}}'
    Python `mcp` SDK client (paste as is). It speaks 2026-07-28 (the gateway bridges it to the
    session-based server-everything); add mode="legacy" for the session-based protocol:
.venv/bin/python - <<'PY'
import asyncio
from mcp import Client
async def main():
    async with Client("{base}/mcp") as client:
        print([tool.name for tool in (await client.list_tools()).tools])
        print((await client.call_tool("everything_echo", {{"message": "hi"}})).content)
asyncio.run(main())
PY
    metrics:   curl -s http://127.0.0.1:{admin}/stats/prometheus | grep mcp_
"""


def main() -> None:
    flavour = os.environ.get("FLAVOUR", "dynmod")
    if flavour not in ("dynmod", "wasm"):
        raise SystemExit(f"FLAVOUR must be dynmod or wasm, not {flavour!r}")
    port = int(os.environ.get("GATEWAY_PORT", "10000"))
    admin = int(os.environ.get("ADMIN_PORT", "9901"))

    # A fresh key per run: sessions from an earlier demo do not open, which is fine for a demo.
    session_key = base64.b64encode(os.urandom(32)).decode()
    children: list[subprocess.Popen] = []
    # Ctrl-C raises KeyboardInterrupt, SIGTERM SystemExit; both reach the cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with tempfile.TemporaryDirectory(prefix="ai-gateway-demo-") as tmp:
        envoy = None
        try:
            agent, agent_port = start_a2a_agent()
            children.append(agent)
            mcp_ports = {}
            for name in MCP_BACKENDS:
                backend, mcp_ports[name] = start_mcp_backend(name, Path(tmp))
                children.append(backend)
            envoy = EnvoyProcess(flavour, {"demo": agent_port}, Path(tmp),
                                 listen_port=port, admin_port=admin, log_level="info",
                                 mcp_backends=mcp_ports, mcp_session_key=session_key)
            envoy.start()
            base = f"http://127.0.0.1:{port}"
            print(f"""
AI gateway demo ({flavour} flavour) — Ctrl-C to stop
  gateway      {base}
  admin        http://127.0.0.1:{admin}   (metrics: /stats/prometheus)
  envoy log    {envoy.log}
  A2A agent    {base}/a2a/demo/   (a2a-sdk echo agent on 127.0.0.1:{agent_port})
    card:      curl {base}/a2a/demo/.well-known/agent-card.json
    message:   curl -H 'content-type: application/json' -H 'A2A-Version: 1.0' {base}/a2a/demo/ \\
                 -d '{{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{{"message":
                 {{"messageId":"m1","role":"ROLE_USER","parts":[{{"text":"hello gateway"}}]}}}}}}'
    metrics:   curl -s http://127.0.0.1:{admin}/stats/prometheus | grep a2a_
  MCP          {base}/mcp   (tools, prompts, resources of all three, prefixed <backend>_<name>)
    backends:  {", ".join(f"{n} 127.0.0.1:{p}/mcp" for n, p in mcp_ports.items())}
    note:      the session key is a random demo key made for this run (not for production):
               {session_key}
{mcp_lines(base, admin)}""", flush=True)
            while envoy.proc.poll() is None:
                time.sleep(0.5)
            print(f"envoy exited with status {envoy.proc.returncode}; log: {envoy.log}")
        except KeyboardInterrupt:
            pass
        finally:
            # A second Ctrl-C (or the terminal's SIGINT to the whole group) must not cut this short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if envoy:
                envoy.stop()
            for child in children:
                stop_child(child)


if __name__ == "__main__":
    main()
