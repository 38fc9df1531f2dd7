"""Same-run benchmark of the `inference` filter (`scripts/bench inference`): Envoy's ext_proc
talking to a fake endpoint picker (EPP) alone ("bare": override_host follows the EPP's header
as is) vs the same chain with the inference filter's guard and route stages (dynamic module,
Wasm), which strip client routing headers, validate the EPP's pick against the pool, hand it to
override_host, report the served endpoint and count per endpoint.

Every variant sends the same OpenAI-style POST to the same nginx "model server" through the same
fake EPP (the harness's Rust ext_proc server, FULL_DUPLEX_STREAMED body, picking nginx), one
Envoy worker each, measured by wrk in interleaved rounds; the per-variant median over rounds is
reported, and ratios are against "bare". The EPP exchange dominates the request's cost, so the
filter's share is what the ratio shows. CPU per request is Envoy's plus the fake EPP's, and its
ratio is the steadier figure: the rps of this chain swings widely from run to run on a shared
machine. The `*-empty` rows put the do-nothing `empty` filter in the two stages' places: what
Envoy's filter machinery costs for two more filter instances, the floor under any filter logic.
Target (issue 10): the filter costs <= 5% of RPS in dynmod.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench import measure_rounds, report, start_nginx, summary, write_json
from envoy_process import envoy_binary, free_port, repo_root, wait_for_port

TARGETS = {"dynmod": 0.95}
# `*-empty`: the do-nothing `empty` filter in both stages' places (diagnostics build), the floor
# Envoy's filter machinery costs for two filter instances before any inference logic runs.
VARIANTS = ("bare", "dynmod", "wasm", "dynmod-empty", "wasm-empty")
PATH = "/v1/chat/completions"
BODY = '{"model":"bench-model","messages":[{"role":"user","content":"hello"}],"max_tokens":16}'
MODEL_LOCATIONS = """
    location / {
      default_type application/json;
      return 200 '{"id":"chatcmpl-bench","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1,"total_tokens":6}}';
    }
"""
WRK_SCRIPT = f"""wrk.method = "POST"
wrk.body = '{BODY}'
wrk.headers["Content-Type"] = "application/json"
"""


def fixture_binary() -> Path:
    """Builds (release) and returns the harness's inference_fixture binary."""
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "ai-gateway-test-harness",
                    "--bin", "inference_fixture"], check=True, cwd=repo_root())
    target = Path(os.environ.get("CARGO_TARGET_DIR", repo_root() / "target"))
    return (repo_root() / target / "release/inference_fixture").resolve()


def start_epp(fixture: Path, pick: str, workdir: Path) -> tuple[subprocess.Popen, str]:
    """The fake EPP, always picking `pick`; returns it and its address."""
    log = open(workdir / "epp.log", "w")
    proc = subprocess.Popen([str(fixture), "epp", "--pick", pick], stdout=subprocess.PIPE,
                            stderr=log, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("EPP "):
        sys.exit(f"bench inference: the fake EPP did not start: {line!r}")
    return proc, line.split()[1]


class InferenceEnvoy:
    """One Envoy running the inference bootstrap for a variant (bare, dynmod, wasm)."""

    def __init__(self, fixture: Path, variant: str, epp: str, member: str, workdir: Path):
        self.name = variant
        self.port = free_port()
        self.admin_port = free_port()
        self.config = workdir / f"envoy-{variant}.yaml"
        self.log = workdir / f"envoy-{variant}.log"
        self.config.write_text(subprocess.run(
            [str(fixture), "render", "--flavour", variant, "--listen", f"127.0.0.1:{self.port}",
             "--admin", f"127.0.0.1:{self.admin_port}", "--epp", epp, "--member", member],
            capture_output=True, text=True, check=True).stdout)
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        target = Path(os.environ.get("CARGO_TARGET_DIR", repo_root() / "target"))
        if self.name.endswith("-empty"):
            target = repo_root() / "target/diagnostics"  # scripts/build's diagnostics build
        env = dict(os.environ,
                   ENVOY_DYNAMIC_MODULES_SEARCH_PATH=str((repo_root() / target / "release").resolve()))
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [envoy_binary(), "-c", str(self.config), "--concurrency", "1",
                 "--disable-hot-restart", "-l", "warning"],
                stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_for_port(self.port, self.proc, f"envoy ({self.name})")

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


def post(url: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, data=BODY.encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        response = urllib.request.urlopen(request, timeout=10)
        return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def filter_counted(envoy: InferenceEnvoy) -> bool:
    """Whether the inference filter counted a routed request (it is really in the chain)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        stats = urllib.request.urlopen(
            f"http://127.0.0.1:{envoy.admin_port}/stats/prometheus", timeout=10).read().decode()
        if any(line.startswith("inference_requests_total{") and not line.endswith(" 0")
               for line in stats.splitlines()):
            return True
        time.sleep(0.1)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=8, help="length of one measured run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per variant")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args()

    fixture = fixture_binary()
    with tempfile.TemporaryDirectory(prefix="ai-gateway-bench-inference-") as tmp:
        workdir = Path(tmp)
        script = workdir / "post.lua"
        script.write_text(WRK_SCRIPT)
        nginx, model_port = start_nginx(workdir, MODEL_LOCATIONS)
        member = f"127.0.0.1:{model_port}"
        epp, epp_addr = start_epp(fixture, member, workdir)
        try:
            envoys = {v: InferenceEnvoy(fixture, v, epp_addr, member, workdir)
                      for v in VARIANTS}
            try:
                for name, envoy in envoys.items():
                    envoy.start()
                    deadline = time.monotonic() + 30
                    while (status := post(envoy.url(PATH))[0]) != 200:
                        if time.monotonic() > deadline:
                            sys.exit(f"bench inference: {name} answered {status}:\n"
                                     f"{envoy.log.read_text()[-3000:]}")
                        time.sleep(0.2)
                    if name in ("dynmod", "wasm") and not filter_counted(envoy):
                        sys.exit(f"bench inference: {name} does not run the inference filter")
                # The EPP's CPU counts: the filter's share of what a request costs the system.
                results = measure_rounds(envoys, PATH, args, script, helper_pids=(epp.pid,))
            finally:
                for envoy in envoys.values():
                    envoy.stop()
        finally:
            epp.terminate()
            epp.wait()
            nginx.terminate()
            nginx.wait()

    title = (f"POST {PATH} through ext_proc + a fake EPP (FULL_DUPLEX_STREAMED), override_host "
             f"to nginx ({args.rounds} rounds x {args.seconds}s, {args.connections} connections, "
             f"1 Envoy worker); bare = ext_proc + EPP alone")
    print(f"\ninference: {title}")
    report(results, TARGETS)
    table, checks = summary(results, TARGETS, issue=10)
    write_json(args.json, "inference", title, args, [table], checks)


if __name__ == "__main__":
    main()
