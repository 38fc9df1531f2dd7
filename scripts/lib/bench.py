"""Same-run benchmark of bare Envoy vs Envoy + the gateway filters (dynamic module, Wasm).

Every flavour proxies the same request to the same nginx upstream, one Envoy worker each, measured
by wrk in interleaved rounds (bare, dynmod, wasm, bare, ...) so drift in machine load hits all
flavours alike; the per-flavour median over rounds is reported, and ratios are against bare Envoy.
"""

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from envoy_process import EnvoyProcess, free_port, wait_for_port

# Targets from the foundation issue: throughput ratio to bare Envoy.
TARGETS = {"dynmod": 0.97, "wasm": 0.85}

# Scenario → (HTTP method, gateway path, request body). "passthrough" is a non-card request the
# a2a filter inspects (path matching, method classification, metrics) but does not rewrite.
SCENARIOS = {
    "passthrough": ("GET", "/a2a/demo/v1/tasks/bench-task", None),
}

NGINX_CONF = """
worker_processes 1;
daemon off;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      default_type application/json;
      return 200 '{{"id":"bench-task","status":{{"state":"TASK_STATE_COMPLETED"}}}}';
    }}
  }}
}}
"""


def start_nginx(workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, port=port))
    proc = subprocess.Popen(
        ["nginx", "-c", str(conf), "-p", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc, "nginx")
    return proc, port


def wrk(url: str, seconds: int, connections: int, script: Path | None) -> tuple[float, float]:
    """Runs wrk once; returns (requests per second, p99 latency in milliseconds)."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        cmd[1:1] = ["-s", str(script)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        sys.exit(f"bench: {errors.group(1)} failed responses from {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rps, float(value) * scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", nargs="?", default="passthrough", choices=sorted(SCENARIOS))
    parser.add_argument("--seconds", type=int, default=8, help="length of one measured run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per flavour")
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()

    method, path, body = SCENARIOS[args.scenario]
    flavours = ["bare", "dynmod", "wasm"]
    results: dict[str, list[tuple[float, float]]] = {f: [] for f in flavours}

    with tempfile.TemporaryDirectory(prefix="ai-gateway-bench-") as tmp:
        workdir = Path(tmp)
        script = None
        if method != "GET":
            script = workdir / "request.lua"
            script.write_text(
                f'wrk.method = "{method}"\nwrk.body = [[{body}]]\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
        nginx, upstream_port = start_nginx(workdir)
        try:
            envoys = {f: EnvoyProcess(f, {"demo": upstream_port}, workdir) for f in flavours}
            try:
                for envoy in envoys.values():
                    envoy.start()
                for f, envoy in envoys.items():  # warm-up: connections, Wasm JIT, stats
                    wrk(envoy.url(path), 2, args.connections, script)
                for rnd in range(args.rounds):
                    for f, envoy in envoys.items():
                        rps, p99 = wrk(envoy.url(path), args.seconds, args.connections, script)
                        results[f].append((rps, p99))
                        print(f"round {rnd + 1} {f:7} {rps:10.0f} rps  p99 {p99:7.2f} ms", flush=True)
            finally:
                for envoy in envoys.values():
                    envoy.stop()
        finally:
            nginx.terminate()
            nginx.wait()

    print(f"\nscenario {args.scenario}: {method} {path}  "
          f"({args.rounds} rounds x {args.seconds}s, {args.connections} connections, 1 Envoy worker)")
    print(f"{'flavour':8} {'rps':>10} {'p99 ms':>8} {'rps ratio':>10} {'p99 ratio':>10}  target")
    bare_rps = statistics.median(r for r, _ in results["bare"])
    bare_p99 = statistics.median(p for _, p in results["bare"])
    failed = []
    for f in flavours:
        rps = statistics.median(r for r, _ in results[f])
        p99 = statistics.median(p for _, p in results[f])
        ratio = rps / bare_rps
        target = TARGETS.get(f)
        verdict = ""
        if target is not None:
            ok = ratio >= target
            verdict = f">= {target:.2f}x {'met' if ok else 'MISSED'}"
            if not ok:
                failed.append(f)
        print(f"{f:8} {rps:10.0f} {p99:8.2f} {ratio:9.3f}x {p99 / bare_p99:9.3f}x  {verdict}")
    if failed:
        print(f"\ntargets missed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
