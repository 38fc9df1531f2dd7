"""Runs the gateway demo: Envoy with the filters on 127.0.0.1:$GATEWAY_PORT serving every
capability at once (the authz filter in front: tokens optional, verified against a demo IdP when
sent), in front of demo upstreams:
  /mcp              three MCP servers (Python session-based, Python stateless, npm
                    server-everything) and a REST API as an OpenAPI backend, behind the mcp filter,
                    with CORS for browser clients
  /a2a/demo/        the a2a-sdk echo agent
  /v1/chat/completions, /v1/messages
                    fake OpenAI and Anthropic APIs (the real ones when OPENAI_API_KEY /
                    ANTHROPIC_API_KEY are set) behind the llm filter
  /inference/v1/…   two fake model servers picked by a fake endpoint picker (ext_proc) and the
                    inference filter
The Envoy config is rendered by `demo-gateway render` to $DEMO_CONFIG (default: a temp file) and
can be run by any Envoy 1.40 (func-e) while the upstreams run: DEMO_ENVOY=none starts only them.
Environment: FLAVOUR=dynmod|wasm, GATEWAY_PORT (10000), ADMIN_PORT (9901), DEMO_CONFIG,
DEMO_ENVOY=none, DEMO_GATEWAY_BIN (default target/release/demo-gateway), CORS_ORIGINS
(comma-separated browser origins allowed on /mcp; default the MCP Inspector's
http://localhost:6274,http://127.0.0.1:6274), OPENAI_API_KEY, ANTHROPIC_API_KEY."""

import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from demo_tour import a2a_lines, authz_lines, inference_lines, llm_lines, mcp_lines
from envoy_process import MCP_BACKENDS, envoy_binary, repo_root, start_mcp_backend, stop_child

READY_TIMEOUT = 60.0


def start_ready_child(cmd: list[str], prefix: str, what: str, log: Path) -> tuple[subprocess.Popen, str]:
    """Starts `cmd` with its output in `log`; returns it and the rest of its first line starting
    with `prefix` (its ready line)."""
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        for line in log.read_text().splitlines():
            if line.startswith(prefix):
                return proc, line[len(prefix):].strip()
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_child(proc)
            raise SystemExit(f"{what} did not start:\n{log.read_text()}")
        time.sleep(0.05)


def llm_upstream(env_key: str, fake: dict) -> tuple[dict, str]:
    """The real provider when its key is in the environment, else the fake; and how to say so."""
    key = os.environ.get(env_key)
    if key:
        return {"apiKey": key}, "the real API (key from $" + env_key + ")"
    return fake, f"fake at {fake['addr']}"


def wait_ready(proc: subprocess.Popen, admin: int, port: int, log: Path) -> None:
    """Waits until Envoy's admin says ready and the gateway port accepts connections."""
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"envoy exited with status {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{admin}/ready", timeout=1) as answer:
                if answer.status == 200:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
                    return
        except urllib.error.HTTPError:
            return  # the gateway answered (404 on /): it serves
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"envoy did not get ready:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)


def main() -> None:
    flavour = os.environ.get("FLAVOUR", "dynmod")
    if flavour not in ("dynmod", "wasm"):
        raise SystemExit(f"FLAVOUR must be dynmod or wasm, not {flavour!r}")
    port = int(os.environ.get("GATEWAY_PORT", "10000"))
    admin = int(os.environ.get("ADMIN_PORT", "9901"))
    target = Path(os.environ.get("CARGO_TARGET_DIR", repo_root() / "target"))
    tool = os.environ.get("DEMO_GATEWAY_BIN", str(target / "release/demo-gateway"))
    origins = os.environ.get("CORS_ORIGINS", "http://localhost:6274,http://127.0.0.1:6274")

    # A fresh key per run: sessions from an earlier demo do not open, which is fine for a demo.
    session_key = base64.b64encode(os.urandom(32)).decode()
    children: list[subprocess.Popen] = []
    # Ctrl-C raises KeyboardInterrupt, SIGTERM SystemExit; both reach the cleanup below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with tempfile.TemporaryDirectory(prefix="ai-gateway-demo-") as tmp_dir:
        tmp = Path(tmp_dir)
        envoy = None
        try:
            agent, agent_port = start_ready_child(
                [sys.executable, "-u", str(repo_root() / "test-harness/clients/a2a_agent.py"),
                 "--port", "0"], "READY ", "the a2a demo agent", tmp / "a2a-agent.log")
            children.append(agent)
            mcp_ports = {}
            for name in MCP_BACKENDS:
                backend, mcp_ports[name] = start_mcp_backend(name, tmp)
                children.append(backend)
            rest_api, rest_port = start_ready_child(
                [sys.executable, "-u", str(repo_root() / "test-harness/clients/rest_api.py"),
                 "--ca-out", str(tmp / "rest-ca.pem"), "--spec-out", str(tmp / "rest-openapi.json")],
                "READY ", "the REST API", tmp / "rest-api.log")
            children.append(rest_api)
            fakes_proc, fakes_line = start_ready_child(
                [tool, "upstreams"], "UPSTREAMS ", "the demo's fakes (demo-gateway upstreams)",
                tmp / "fakes.log")
            children.append(fakes_proc)
            fakes = json.loads(fakes_line)
            openai, openai_note = llm_upstream("OPENAI_API_KEY", fakes["openai"])
            anthropic, anthropic_note = llm_upstream("ANTHROPIC_API_KEY", fakes["anthropic"])
            upstreams = {
                "agent": f"127.0.0.1:{agent_port}",
                "mcpBackends": {name: f"127.0.0.1:{p}" for name, p in mcp_ports.items()},
                "mcpSessionKey": session_key,
                "openapi": {"addr": f"127.0.0.1:{rest_port}", "caPemFile": str(tmp / "rest-ca.pem"),
                            "specFile": str(tmp / "rest-openapi.json")},
                "openai": openai, "anthropic": anthropic,
                "epp": fakes["epp"], "modelServers": fakes["modelServers"],
                "corsOrigins": [o.strip() for o in origins.split(",") if o.strip()],
                "idp": fakes["idp"],
            }
            (tmp / "upstreams.json").write_text(json.dumps(upstreams))
            config = Path(os.environ.get("DEMO_CONFIG", tmp / "envoy-demo.yaml")).absolute()
            rendered = subprocess.run(
                [tool, "render", "--flavour", flavour, "--upstreams", str(tmp / "upstreams.json"),
                 "--listen", f"127.0.0.1:{port}", "--admin", f"127.0.0.1:{admin}"],
                capture_output=True, text=True)
            if rendered.returncode != 0:
                raise SystemExit(f"rendering the demo config failed:\n{rendered.stderr}")
            config.write_text(rendered.stdout)
            module_dir = target / "release"
            log = tmp / "envoy.log"
            if os.environ.get("DEMO_ENVOY") != "none":
                env = dict(os.environ, ENVOY_DYNAMIC_MODULES_SEARCH_PATH=str(module_dir))
                with open(log, "w") as out:
                    envoy = subprocess.Popen(
                        [envoy_binary(), "-c", str(config), "--disable-hot-restart",
                         "--log-level", "info"], stdout=out, stderr=subprocess.STDOUT, env=env,
                        stdin=subprocess.DEVNULL)
                wait_ready(envoy, admin, port, log)
            base = f"http://127.0.0.1:{port}"
            running = (f"envoy log    {log}" if envoy else
                       f"no Envoy started (DEMO_ENVOY=none); run the config, e.g.\n"
                       f"    ENVOY_DYNAMIC_MODULES_SEARCH_PATH={module_dir} func-e run -c {config}")
            print(f"""
AI gateway demo ({flavour} flavour) — Ctrl-C to stop
  gateway      {base}
  admin        http://127.0.0.1:{admin}   (ready: /ready, metrics: /stats/prometheus)
  config       {config}
  {running}
{authz_lines(base, admin, fakes["idp"])}{a2a_lines(base, admin, agent_port)}  MCP          {base}/mcp   (tools, prompts, resources of all backends, prefixed <backend>_<name>)
    backends:  {", ".join(f"{n} 127.0.0.1:{p}/mcp" for n, p in mcp_ports.items())},
               clinic (OpenAPI: REST API https://127.0.0.1:{rest_port})
    browsers:  CORS allows {origins}
    note:      the session key is a random demo key made for this run (not for production):
               {session_key}
{mcp_lines(base, admin, openapi=True)}{llm_lines(base, admin, {"openai": openai_note, "anthropic": anthropic_note})}{inference_lines(base, admin, fakes["epp"], fakes["modelServers"])}
DEMO READY""", flush=True)
            while all(child.poll() is None for child in children + ([envoy] if envoy else [])):
                time.sleep(0.5)
            print("a demo process exited; stopping. Logs were in " + str(tmp), flush=True)
            if envoy and envoy.poll() is not None:
                print(log.read_text()[-4000:])
        except KeyboardInterrupt:
            pass
        finally:
            # A second Ctrl-C (or the terminal's SIGINT to the whole group) must not cut this short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            if envoy:
                stop_child(envoy)
            for child in children:
                stop_child(child)


if __name__ == "__main__":
    main()
