"""Same-run benchmark of bare Envoy vs Envoy + the gateway filters (dynamic module, Wasm).

Every flavour proxies the same request to the same nginx upstream, one Envoy worker each, measured
by wrk in interleaved rounds (bare, dynmod, wasm, bare, ...) so drift in machine load hits all
flavours alike; the per-flavour median over rounds is reported, and ratios are against bare Envoy.
The `*-empty` rows load each adapter with the do-nothing `empty` filter: the floor that Envoy's
Wasm / dynamic-module machinery sets before any filter logic runs. Envoy's CPU time per request
(from /proc, all threads) is reported too: steadier than throughput on a shared machine.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from envoy_process import EnvoyProcess, free_port, repo_root, wait_for_port

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
{locations}
  }}
}}
"""

# What nginx answers by default: an A2A task, whatever the path.
A2A_LOCATIONS = """
    location / {
      default_type application/json;
      return 200 '{"id":"bench-task","status":{"state":"TASK_STATE_COMPLETED"}}';
    }
"""


def start_nginx(workdir: Path, locations: str = A2A_LOCATIONS) -> tuple[subprocess.Popen, int]:
    """nginx on a free loopback port answering canned bodies (`locations`: nginx `location`
    blocks); returns it and its port."""
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(NGINX_CONF.format(dir=workdir, port=port, locations=locations))
    proc = subprocess.Popen(
        ["nginx", "-c", str(conf), "-p", str(workdir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port, proc, "nginx")
    return proc, port


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, seconds: int, connections: int, script: Path | None
        ) -> tuple[float, float, float]:
    """Runs wrk once; returns (requests per second, p99 and p50 latency in milliseconds)."""
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        cmd[1:1] = ["-s", str(script)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        sys.exit(f"bench: {errors.group(1)} failed responses from {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def percentile_ms(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    return rps, percentile_ms("99"), percentile_ms("50")


def measure_rounds(envoys: dict[str, EnvoyProcess], path: str, args, script: Path | None,
                   requests: dict[str, tuple[str, Path | None]] | None = None,
                   helper_pids: tuple[int, ...] = ()
                   ) -> dict[str, list[tuple[float, float, float, float]]]:
    """Warms every Envoy up, then runs wrk on each in interleaved rounds (so drift in machine load
    hits all alike); per name, (rps, p99 ms, CPU us per request, p50 ms) of each round: Envoy's CPU plus
    that of `helper_pids` (processes every request also costs, e.g. an ext_proc server shared by
    all rows, whose CPU during a row's run is that row's). Each name sends `path` with the wrk
    `script`, unless `requests` gives it its own (path, script). An "Envoy" may be any process
    object with `proc` and `url(path)` (e.g. another proxy)."""
    chosen = {name: (requests or {}).get(name, (path, script)) for name in envoys}
    runs = {name: (envoy.url(chosen[name][0]), chosen[name][1]) for name, envoy in envoys.items()}
    results: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name in envoys}
    width = max(map(len, envoys))
    for name in envoys:  # warm-up: connections, Wasm JIT, stats, caches
        wrk(runs[name][0], 2, args.connections, runs[name][1])
    for rnd in range(args.rounds):
        for name, envoy in envoys.items():
            url, wrk_script = runs[name]
            pids = (envoy.proc.pid, *helper_pids)
            cpu_before = sum(map(cpu_seconds, pids))
            rps, p99, p50 = wrk(url, args.seconds, args.connections, wrk_script)
            cpu_us = (sum(map(cpu_seconds, pids)) - cpu_before) / (rps * args.seconds) * 1e6
            results[name].append((rps, p99, cpu_us, p50))
            print(f"round {rnd + 1} {name:{width}} {rps:8.0f} rps  p99 {p99:6.2f} ms  "
                  f"{cpu_us:5.1f} us CPU/request", flush=True)
    return results


def report(results: dict[str, list[tuple[float, ...]]], targets: dict[str, float]) -> None:
    """Prints the per-name medians, their ratios to `bare` and the `targets` (rps ratios) met or
    missed. The CPU ratio (bare's CPU per request over the row's) is the throughput ratio a
    CPU-bound machine would show, steadier than the rps ratio when load varies."""
    width = max(12, *map(len, results))
    print(f"{'flavour':{width}} {'rps':>8} {'p99 ms':>7} {'CPU us/req':>10} "
          f"{'rps ratio':>9} {'p99 ratio':>9} {'CPU ratio':>9}  target")
    median = {name: [statistics.median(run[i] for run in runs) for i in range(3)]
              for name, runs in results.items()}
    bare_rps, bare_p99, bare_cpu = median["bare"]
    missed = []
    for name, (rps, p99, cpu_us) in median.items():
        ratio = rps / bare_rps
        target = targets.get(name)
        verdict = ""
        if target is not None:
            ok = ratio >= target
            verdict = f">= {target:.2f}x {'met' if ok else 'MISSED'}"
            if not ok:
                missed.append(name)
        print(f"{name:{width}} {rps:8.0f} {p99:7.2f} {cpu_us:10.1f} {ratio:8.3f}x "
              f"{p99 / bare_p99:8.3f}x {bare_cpu / cpu_us:8.3f}x  {verdict}")
    if missed:
        print(f"\ntargets missed: {', '.join(missed)}")


def summary(results: dict[str, list[tuple[float, ...]]], targets: dict[str, float], issue: int,
            peers: tuple[str, ...] = ()) -> tuple[dict, list[dict]]:
    """measure_rounds' results as one table for `--json` (per name the medians and the ratios to
    `bare`, as `report` prints them; `peers` are other products) and the `targets` (rps ratios of
    issue `issue`) with their verdicts."""
    median = {name: [statistics.median(run[i] for run in runs) for i in range(4)]
              for name, runs in results.items()}
    bare_rps, bare_p99, bare_cpu, bare_p50 = median["bare"]
    rows = [{"name": name, "rps": rps, "p50_ms": p50, "p99_ms": p99, "cpu_us": cpu_us,
             "rps_ratio": rps / bare_rps, "p50_ratio": p50 / bare_p50,
             "p99_ratio": p99 / bare_p99, "cpu_ratio": bare_cpu / cpu_us,
             "kind": "baseline" if name == "bare" else "peer" if name in peers else "gateway"}
            for name, (rps, p99, cpu_us, p50) in median.items()]
    checks = [{"issue": issue, "what": f"{name} throughput >= {target:.2f}x bare Envoy",
               "value": f"{median[name][0] / bare_rps:.3f}x",
               "met": median[name][0] / bare_rps >= target}
              for name, target in targets.items() if name in median]
    return {"name": "throughput", "baseline": "bare", "rows": rows}, checks


def write_json(path: str | None, bench: str, title: str, args, tables: list[dict],
               targets: list[dict]) -> None:
    """Writes one benchmark's results for scripts/lib/bench_report.py, when `--json` asked."""
    if not path:
        return
    settings = {key: value for key, value in vars(args).items() if key != "json"}
    Path(path).write_text(json.dumps({"bench": bench, "title": title, "settings": settings,
                                      "tables": tables, "targets": targets}, indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("scenario", nargs="?", default="passthrough", choices=sorted(SCENARIOS))
    parser.add_argument("--seconds", type=int, default=8, help="length of one measured run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per flavour")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args()

    method, path, body = SCENARIOS[args.scenario]
    floor_dir = repo_root() / "target/diagnostics"  # scripts/build's diagnostics build
    variants = {  # name → (flavour, filter, target dir)
        "bare": ("bare", None, None),
        "dynmod": ("dynmod", None, None),
        "wasm": ("wasm", None, None),
        "dynmod-empty": ("dynmod", "empty", floor_dir),
        "wasm-empty": ("wasm", "empty", floor_dir),
    }
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
            envoys = {
                name: EnvoyProcess(flavour, {"demo": upstream_port}, workdir,
                                   filter=filter, target_dir=target)
                for name, (flavour, filter, target) in variants.items()
            }
            try:
                for envoy in envoys.values():
                    envoy.start()
                results = measure_rounds(envoys, path, args, script)
            finally:
                for envoy in envoys.values():
                    envoy.stop()
        finally:
            nginx.terminate()
            nginx.wait()

    title = (f"{method} {path} ({args.rounds} rounds x {args.seconds}s, {args.connections} "
             f"connections, 1 Envoy worker)")
    print(f"\nscenario {args.scenario}: {title}")
    report(results, TARGETS)
    table, checks = summary(results, TARGETS, issue=3)
    write_json(args.json, args.scenario, title, args, [table], checks)

if __name__ == "__main__":
    main()
