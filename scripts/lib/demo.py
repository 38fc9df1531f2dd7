"""Runs the gateway demo: Envoy with the filters on 127.0.0.1:$GATEWAY_PORT, demo upstreams behind it."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from envoy_process import EnvoyProcess, repo_root


def start_a2a_agent() -> tuple[subprocess.Popen, int]:
    """The a2a-sdk echo agent the tests use; it prints `READY <port>` once it listens."""
    agent = subprocess.Popen(
        [sys.executable, str(repo_root() / "test-harness/clients/a2a_agent.py"), "--port", "0"],
        stdout=subprocess.PIPE, text=True)
    for line in agent.stdout:
        if line.startswith("READY "):
            return agent, int(line.split()[1])
    raise SystemExit(f"a2a demo agent exited with status {agent.wait()}")


def main() -> None:
    flavour = os.environ.get("FLAVOUR", "dynmod")
    if flavour not in ("dynmod", "wasm"):
        raise SystemExit(f"FLAVOUR must be dynmod or wasm, not {flavour!r}")
    port = int(os.environ.get("GATEWAY_PORT", "10000"))
    admin = int(os.environ.get("ADMIN_PORT", "9901"))

    agent, agent_port = start_a2a_agent()
    with tempfile.TemporaryDirectory(prefix="ai-gateway-demo-") as tmp:
        envoy = EnvoyProcess(flavour, {"demo": agent_port}, Path(tmp),
                             listen_port=port, admin_port=admin, log_level="info")
        try:
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
""", flush=True)
            # Ctrl-C raises KeyboardInterrupt, SIGTERM SystemExit; both reach the cleanup below.
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
            while envoy.proc.poll() is None:
                time.sleep(0.5)
            print(f"envoy exited with status {envoy.proc.returncode}; log: {envoy.log}")
        except KeyboardInterrupt:
            pass
        finally:
            envoy.stop()
            agent.terminate()
            agent.wait()


if __name__ == "__main__":
    main()
