"""Starts Envoy from the project's templates, and the demo MCP servers, as owned child processes
(for demo and bench)."""

import hashlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def envoy_binary() -> str:
    if os.environ.get("ENVOY_BIN"):
        return os.environ["ENVOY_BIN"]
    found = sorted(repo_root().glob(".venv/lib/python3*/site-packages/envoy/_bin/envoy"))
    if not found:
        raise SystemExit("envoy not found: run scripts/setup or set ENVOY_BIN")
    return str(found[0])


def bench_venv(venv: Path, requirements: Path) -> Path:
    """The Python of a benchmark-only venv (a comparison proxy kept out of the test venv),
    (re)installing `requirements` when they changed."""
    python = venv / "bin/python"
    stamp = venv / ".requirements.sha256"
    want = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if not python.exists() or not stamp.exists() or stamp.read_text() != want:
        print(f"bench: installing {requirements.name} into {venv}", flush=True)
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-r", str(requirements)], check=True)
        stamp.write_text(want)
    return python


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"{what} did not listen on port {port} within {timeout}s")


class EnvoyProcess:
    """One Envoy running a rendered bootstrap for a flavour: bare, dynmod or wasm.

    `filter` replaces the a2a filter by another catalog filter (config `{}`), loaded from the
    builds in `target_dir` (default <repo>/target). `mcp_backends` (name → local port) adds the
    mcp filter on /mcp, sealing sessions with `mcp_session_key` (base64 of 32 bytes) and with
    `mcp_config` merged into its config. `llm_providers` (name → local port) adds the llm route
    with clusters llm_<name>, and the llm filter with `llm_config` unless the flavour is bare."""

    def __init__(self, flavour: str, agents: dict[str, int], workdir: Path,
                 listen_port: int | None = None, admin_port: int | None = None,
                 concurrency: int = 1, log_level: str = "warning",
                 filter: str | None = None, target_dir: Path | None = None,
                 mcp_backends: dict[str, int] | None = None, mcp_session_key: str | None = None,
                 mcp_config: dict | None = None, llm_providers: dict[str, int] | None = None,
                 llm_config: dict | None = None):
        self.flavour = flavour
        self.name = f"{flavour}-{filter}" if filter else flavour
        self.target_dir = target_dir or repo_root() / "target"
        self.port = listen_port or free_port()
        self.admin_port = admin_port or free_port()
        self.concurrency = concurrency
        self.log_level = log_level
        self.config = workdir / f"envoy-{self.name}.yaml"
        self.log = workdir / f"envoy-{self.name}.log"
        render = repo_root() / "target/release/render-envoy-config"
        cmd = [str(render), "--flavour", flavour,
               "--listen", f"127.0.0.1:{self.port}", "--admin", f"127.0.0.1:{self.admin_port}"]
        for name, port in agents.items():
            cmd += ["--agent", f"{name}=127.0.0.1:{port}"]
        if filter:
            cmd += ["--filter", filter]
        for name, port in (mcp_backends or {}).items():
            cmd += ["--mcp-backend", f"{name}=127.0.0.1:{port}"]
        if mcp_backends:
            cmd += ["--mcp-session-key", mcp_session_key or "",
                    "--mcp-config", json.dumps(mcp_config or {})]
        for name, port in (llm_providers or {}).items():
            cmd += ["--llm-provider", f"{name}=127.0.0.1:{port}"]
        if llm_providers:
            cmd += ["--llm-config", json.dumps(llm_config or {})]
        env = dict(os.environ, CARGO_TARGET_DIR=str(self.target_dir))
        self.config.write_text(
            subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        env = dict(os.environ, ENVOY_DYNAMIC_MODULES_SEARCH_PATH=str(self.target_dir / "release"))
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [envoy_binary(), "-c", str(self.config), "--concurrency", str(self.concurrency),
                 "--disable-hot-restart", "-l", self.log_level],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            wait_for_port(self.port, self.proc, f"envoy ({self.name})")
        except SystemExit:
            print(self.log.read_text())
            raise
        ready = f"http://127.0.0.1:{self.admin_port}/ready"
        deadline = time.monotonic() + 30
        while urllib.request.urlopen(ready).status != 200:
            if time.monotonic() > deadline:
                raise SystemExit(f"envoy ({self.name}) not ready")
            time.sleep(0.1)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# The demo MCP servers the e2e tests use: name → how to start it on `port` and the line it prints
# once it accepts connections.
MCP_BACKENDS = ("session", "stateless", "everything")


def start_mcp_backend(kind: str, workdir: Path, name: str | None = None,
                      timeout: float = 60.0) -> tuple[subprocess.Popen, int]:
    """Starts one demo MCP server of `kind` (one of MCP_BACKENDS; serving /mcp on 127.0.0.1) with
    its output in workdir/mcp-<name, default kind>.log;
    returns it and its port once it accepts connections. `session` and `stateless` are
    test-harness/clients/mcp_server.py (official `mcp` SDK); `everything` is npm server-everything,
    run with node directly so that stopping the child stops the server."""
    port = free_port()
    env = dict(os.environ)
    name = name or kind
    if kind == "everything":
        entry = repo_root() / "test-harness/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
        cmd = ["node", str(entry), "streamableHttp"]
        env["PORT"] = str(port)
        ready = f"MCP Streamable HTTP Server listening on port {port}"
    else:
        cmd = [sys.executable, "-u", str(repo_root() / "test-harness/clients/mcp_server.py"),
               "--mode", kind, "--port", str(port)]
        ready = f"READY {port}"
    log = workdir / f"mcp-{name}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while not any(line.strip() == ready for line in log.read_text().splitlines()):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_child(proc)
            raise SystemExit(f"MCP backend {name} did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return proc, port


def stop_child(proc: subprocess.Popen) -> None:
    """Terminates a child and waits for it (killing it after 10 s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
