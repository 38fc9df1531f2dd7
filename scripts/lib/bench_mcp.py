"""Same-run MCP benchmark (`scripts bench mcp`): the mcp filter in Envoy (dynamic module, Wasm) vs
clients that talk to the backends themselves.

Three local MCP servers (by default Python session-based, Python stateless, npm server-everything;
--backends picks others) run once; one Envoy per flavour fronts all three on /mcp. Scenarios, each measured in interleaved rounds
(so drift in machine load hits all alike; the per-scenario median over rounds is reported):
- fanout-baseline: the client sends `tools/list` to the three backends itself, in parallel, one
  call = all three answers; fanout-dynmod / fanout-wasm: one `tools/list` to the gateway, which
  fans out and merges.
- call-direct: `tools/call echo` straight to one backend; call-envoy: the same call through a bare
  Envoy (no filter), the cost of the hop alone; call-dynmod / call-wasm: the same call routed by
  the gateway (`<backend>_echo`), also compared with call-envoy (the filter's own share).
- fanout-fastmcp / call-fastmcp: the same two calls through a FastMCP 4.1 proxy that mounts the
  same backends under the same namespaces (FastMCP's `create_proxy` + `mount`, default settings:
  a fresh backend session per request); fanout-fastmcp-reuse / call-fastmcp-reuse: the same proxy
  handed one connected client per backend, whose session it then reuses (FastMCP's opt-in).
  FastMCP runs from its own venv (.bench/fastmcp-venv, from
  test-harness/clients/requirements-fastmcp.txt), created on first use; --no-fastmcp skips it.
The load generator speaks the session-based protocol (2025-11-25): every target is initialized
once and its session reused by N concurrent workers over keep-alive connections. The client and
the backends are Python/Node on the same machine, so they, not Envoy, bound the absolute rates:
only the same-run ratios mean something. Two columns say who is saturated: the load generator's
own CPU (in cores; near 1.0 it is the bottleneck, one Python thread) and the proxy's (Envoy's or
FastMCP's) CPU per call.
"""

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from bench import cpu_seconds, write_json
from envoy_process import (MCP_BACKENDS, EnvoyProcess, bench_venv, free_port, repo_root,
                           start_mcp_backend, stop_child, wait_for_port)

PROTOCOL = "2025-11-25"
FLAVOURS = ("dynmod", "wasm")
# The FastMCP proxies: scenario suffix → whether it reuses one backend session per backend.
FASTMCP_PROXIES = {"fastmcp": False, "fastmcp-reuse": True}
FASTMCP_REQUIREMENTS = repo_root() / "test-harness/clients/requirements-fastmcp.txt"
FASTMCP_VENV = repo_root() / ".bench/fastmcp-venv"
# Targets from the MCP issue, for the dynmod flavour.
# The bare Envoy row routes this prefix (the `demo` agent route of the bare bootstrap, prefix
# rewritten to `/`) to the called backend.
BARE_PREFIX = "/a2a/demo"
FANOUT_RPS_RATIO = 0.9
FANOUT_P50_EXTRA_MS = 1.0
CALL_P50_RATIO = 1.10


class BenchError(Exception):
    """A request failed: the figures would be meaningless."""


class McpSession:
    """One session-based MCP session, shared by the workers over one keep-alive client."""

    def __init__(self, client: httpx.AsyncClient, url: str):
        self.client = client
        self.url = url
        self.headers = {"accept": "application/json, text/event-stream",
                        "content-type": "application/json"}
        self.next_id = 0

    async def open(self) -> "McpSession":
        await self.request("initialize", {"protocolVersion": PROTOCOL, "capabilities": {},
                                          "clientInfo": {"name": "bench", "version": "1"}})
        self.headers["mcp-protocol-version"] = PROTOCOL
        await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return self

    async def post(self, message: dict) -> httpx.Response:
        response = await self.client.post(self.url, content=json.dumps(message),
                                          headers=self.headers)
        if response.status_code >= 300:
            raise BenchError(f"{self.url}: HTTP {response.status_code}: {response.text[:300]}")
        return response

    async def request(self, method: str, params: dict | None = None) -> dict:
        """Sends a request and returns its result (JSON or SSE answer)."""
        self.next_id += 1
        message = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            message["params"] = params
        response = await self.post(message)
        session = response.headers.get("mcp-session-id")
        if method == "initialize" and session:
            self.headers["mcp-session-id"] = session
        answer = parse_answer(response)
        if "result" not in answer:
            raise BenchError(f"{self.url} {method}: {json.dumps(answer)[:300]}")
        return answer["result"]


def parse_answer(response: httpx.Response) -> dict:
    """The JSON-RPC response in a JSON body or in the `data:` lines of an SSE body."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        for line in response.text.splitlines():
            data = line[5:].strip() if line.startswith("data:") else ""
            if data:  # empty data: a priming event for resumption
                message = json.loads(data)
                if "result" in message or "error" in message:
                    return message
        raise BenchError(f"no response in the event stream: {response.text[:300]}")
    return response.json()


async def measure(call: Callable[[], Awaitable], seconds: float, workers: int) -> tuple[float, ...]:
    """Runs `call` from `workers` concurrent loops for `seconds`;
    (calls/s, p50 ms, p99 ms, this client's CPU in cores)."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - start)

    start, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - start
    client_cpu = (time.process_time() - cpu) / elapsed
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return len(latencies) / elapsed, statistics.median(latencies) * 1e3, p99 * 1e3, client_cpu


def start_fastmcp_proxy(name: str, reuse: bool, ports: dict[str, int], workdir: Path
                        ) -> tuple[subprocess.Popen, int]:
    """A FastMCP proxy mounting every backend under its name; returns it and its port."""
    port = free_port()
    cmd = [str(bench_venv(FASTMCP_VENV, FASTMCP_REQUIREMENTS)), "-u", str(Path(__file__).with_name("bench_fastmcp_proxy.py")),
           "--port", str(port)]
    for backend, backend_port in ports.items():
        cmd += ["--backend", f"{backend}=http://127.0.0.1:{backend_port}/mcp"]
    if reuse:
        cmd.append("--reuse-sessions")
    log = workdir / f"{name}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc, name, timeout=60)
    except SystemExit:
        stop_child(proc)
        print(log.read_text())
        raise
    return proc, port


async def run(ports: dict[str, int], envoys: dict[str, EnvoyProcess], proxies: dict[str, tuple],
              args) -> dict[str, list]:
    """Opens every session, then measures each scenario `args.rounds` times, interleaved."""
    limits = httpx.Limits(max_connections=args.workers, max_keepalive_connections=args.workers)

    def client() -> httpx.AsyncClient:
        return httpx.AsyncClient(limits=limits, timeout=30)

    clients = []

    async def session(url: str) -> McpSession:
        clients.append(client())
        return await McpSession(clients[-1], url).open()

    try:
        direct = {name: await session(f"http://127.0.0.1:{port}/mcp") for name, port in ports.items()}
        gateways = {f: await session(envoys[f].url("/mcp")) for f in FLAVOURS}
        hop = await session(envoys["envoy"].url(f"{BARE_PREFIX}/mcp"))
        for name, (_, port) in proxies.items():
            gateways[name] = await session(f"http://127.0.0.1:{port}/mcp")
        pids = {f: envoy.proc.pid for f, envoy in envoys.items()}
        pids.update({name: proc.pid for name, (proc, _) in proxies.items()})
        echo = {"message": "bench"}
        scenarios: dict[str, Callable[[], Awaitable]] = {
            "fanout-baseline": lambda: asyncio.gather(
                *(s.request("tools/list") for s in direct.values())),
        }
        for f, gw in gateways.items():
            scenarios[f"fanout-{f}"] = lambda gw=gw: gw.request("tools/list")
        scenarios["call-direct"] = lambda: direct[args.call_backend].request(
            "tools/call", {"name": "echo", "arguments": echo})
        scenarios["call-envoy"] = lambda: hop.request(
            "tools/call", {"name": "echo", "arguments": echo})
        for f, gw in gateways.items():
            scenarios[f"call-{f}"] = lambda gw=gw: gw.request(
                "tools/call", {"name": f"{args.call_backend}_echo", "arguments": echo})

        expected = sum([len((await s.request("tools/list"))["tools"]) for s in direct.values()])
        for f, gw in gateways.items():
            merged = len((await gw.request("tools/list"))["tools"])
            if f in FASTMCP_PROXIES and merged >= expected:
                # FastMCP forwards sampling/elicitation/roots capabilities to the backends, and
                # server-everything lists more tools to such a client.
                if merged > expected:
                    print(f"bench mcp: {f} lists {merged} tools (the backends {expected} for this "
                          f"client: FastMCP announces more client capabilities)", flush=True)
            elif merged != expected:
                raise BenchError(f"{f}: the gateway lists {merged} tools, the backends {expected}")

        for call in scenarios.values():  # warm-up: connections, Wasm JIT, server caches
            await measure(call, 1, args.workers)
        results: dict[str, list] = {name: [] for name in scenarios}
        for rnd in range(args.rounds):
            for name, call in scenarios.items():
                pid = pids.get(name.partition("-")[2])
                proxy_cpu = cpu_seconds(pid) if pid else 0.0
                rps, p50, p99, client_cpu = await measure(call, args.seconds, args.workers)
                calls = rps * args.seconds
                proxy_us = (cpu_seconds(pid) - proxy_cpu) / calls * 1e6 if pid else 0.0
                results[name].append((rps, p50, p99, client_cpu, proxy_us))
                print(f"round {rnd + 1} {name:20} {rps:7.0f} calls/s  p50 {p50:7.2f} ms  "
                      f"p99 {p99:7.2f} ms  client {client_cpu:4.2f} cores  "
                      f"proxy {proxy_us:6.0f} us CPU/call", flush=True)
        return results
    finally:
        for c in clients:
            await c.aclose()


def report(results: dict[str, list], args) -> None:
    median = {name: [statistics.median(run[i] for run in runs) for i in range(5)]
              for name, runs in results.items()}
    print(f"\nmcp: {args.rounds} rounds x {args.seconds}s, {args.workers} workers, 1 Envoy worker; "
          f"fan-out over {args.backends}; routed call to `{args.call_backend}`")
    print(f"{'scenario':20} {'calls/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'client':>6} "
          f"{'proxy us':>8} {'vs':>16} "
          f"{'rps ratio':>9} {'p50 ratio':>9} {'p50 +ms':>8}  target (dynmod)")
    missed = []
    for name, (rps, p50, p99, client_cpu, proxy_us) in median.items():
        kind, _, flavour = name.partition("-")
        base = "fanout-baseline" if kind == "fanout" else "call-direct"
        proxy = f"{proxy_us:8.0f}" if name != base else f"{'-':>8}"
        line = f"{name:20} {rps:8.0f} {p50:8.2f} {p99:8.2f} {client_cpu:6.2f} {proxy}"
        if name != base:
            b_rps, b_p50 = median[base][:2]
            line += (f" {base:>16} {rps / b_rps:8.3f}x {p50 / b_p50:8.3f}x "
                     f"{p50 - b_p50:+8.2f}")
            if flavour == "dynmod" and kind == "fanout":
                ok = rps / b_rps >= FANOUT_RPS_RATIO and p50 <= b_p50 + FANOUT_P50_EXTRA_MS
                line += (f"  >= {FANOUT_RPS_RATIO}x calls/s, p50 <= +{FANOUT_P50_EXTRA_MS:g} ms "
                         f"{'met' if ok else 'MISSED'}")
                missed += [] if ok else [name]
            elif flavour == "dynmod":
                ok = p50 / b_p50 <= CALL_P50_RATIO
                line += f"  p50 <= {CALL_P50_RATIO:.2f}x {'met' if ok else 'MISSED'}"
                missed += [] if ok else [name]
        print(line)
    comparisons = [(kind, flavour, proxy) for kind in ("fanout", "call") for flavour in FLAVOURS
                   for proxy in FASTMCP_PROXIES if f"{kind}-{proxy}" in median]
    for flavour in FLAVOURS:
        if f"call-{flavour}" in median and "call-envoy" in median:
            p50, hop_p50 = median[f"call-{flavour}"][1], median["call-envoy"][1]
            print(f"call-{flavour} vs call-envoy (the filter's share): p50 {p50 / hop_p50:6.3f}x "
                  f"{p50 - hop_p50:+.2f} ms")
    if comparisons:
        print()
    for kind, flavour, proxy in comparisons:
        gw_rps, gw_p50, gw_p99 = median[f"{kind}-{flavour}"][:3]
        fm_rps, fm_p50, fm_p99 = median[f"{kind}-{proxy}"][:3]
        pair = f"{kind}-{flavour} vs {kind}-{proxy}:"
        print(f"{pair:40} {gw_rps / fm_rps:6.1f}x calls/s  p50 {gw_p50 / fm_p50:6.3f}x  "
              f"p99 {gw_p99 / fm_p99:6.3f}x")
    if missed:
        print(f"\ntargets missed: {', '.join(missed)}")


def summary(results: dict[str, list]) -> tuple[list[dict], list[dict]]:
    """The medians as two tables for `--json` (fan-out, routed call; ratios to each one's baseline:
    the client doing it itself), and issue 4's targets with their verdicts."""
    median = {name: [statistics.median(run[i] for run in runs) for i in range(5)]
              for name, runs in results.items()}
    tables, checks = [], []
    for kind, base in (("fanout", "fanout-baseline"), ("call", "call-direct")):
        b_rps, b_p50, b_p99 = median[base][:3]
        rows = []
        for name, (rps, p50, p99, client_cpu, proxy_us) in median.items():
            if not name.startswith(f"{kind}-"):
                continue
            proxy = name.partition("-")[2]
            role = ("baseline" if name == base else "bare" if proxy == "envoy"
                    else "peer" if proxy in FASTMCP_PROXIES else "gateway")
            rows.append({"name": name, "rps": rps, "p50_ms": p50, "p99_ms": p99,
                         "cpu_us": proxy_us if name != base else None,
                         "client_cores": client_cpu, "rps_ratio": rps / b_rps,
                         "p50_ratio": p50 / b_p50, "p99_ratio": p99 / b_p99,
                         "added_ms": p50 - b_p50, "kind": role})
        tables.append({"name": "fan-out tools/list" if kind == "fanout" else "routed tools/call",
                       "baseline": base, "rows": rows})
    if "fanout-dynmod" in median:
        rps, p50 = median["fanout-dynmod"][:2]
        b_rps, b_p50 = median["fanout-baseline"][:2]
        checks.append({"issue": 4, "what": f"fanout-dynmod calls/s >= {FANOUT_RPS_RATIO}x the "
                                           f"client's own fan-out, p50 <= +{FANOUT_P50_EXTRA_MS:g} ms",
                       "value": f"{rps / b_rps:.3f}x, {p50 - b_p50:+.2f} ms",
                       "met": rps / b_rps >= FANOUT_RPS_RATIO and p50 <= b_p50 + FANOUT_P50_EXTRA_MS})
    if "call-dynmod" in median:
        ratio = median["call-dynmod"][1] / median["call-direct"][1]
        checks.append({"issue": 4, "what": f"call-dynmod p50 <= {CALL_P50_RATIO:.2f}x direct",
                       "value": f"{ratio:.3f}x", "met": ratio <= CALL_P50_RATIO})
    return tables, checks


def backend_names(kinds: list[str]) -> dict[str, str]:
    """Backend name → server kind; a repeated kind gets a number from its second occurrence on."""
    names: dict[str, str] = {}
    for kind in kinds:
        if kind not in MCP_BACKENDS:
            sys.exit(f"bench mcp: unknown backend kind {kind!r} (one of {', '.join(MCP_BACKENDS)})")
        count = sum(1 for k in names.values() if k == kind)
        names[f"{kind}{count + 1}" if count else kind] = kind
    return names


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench mcp", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4, help="length of one measured run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per scenario")
    parser.add_argument("--workers", type=int, default=8, help="concurrent client loops")
    parser.add_argument("--backends", default=",".join(MCP_BACKENDS),
                        help="comma-separated server kinds to fan out over, repeats allowed "
                             "(e.g. everything,everything,everything: named everything, "
                             "everything2, ...)")
    parser.add_argument("--call-backend", default="everything",
                        help="the backend (by name) the routed tools/call goes to")
    parser.add_argument("--no-fastmcp", dest="fastmcp", action="store_false",
                        help="leave out the FastMCP proxy rows")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args()
    backends = backend_names(args.backends.split(","))
    if args.call_backend not in backends:
        parser.error(f"--call-backend {args.call_backend}: not one of {', '.join(backends)}")

    key = base64.b64encode(os.urandom(32)).decode()
    children = []
    envoys: dict[str, EnvoyProcess] = {}
    proxies: dict[str, tuple[subprocess.Popen, int]] = {}
    with tempfile.TemporaryDirectory(prefix="ai-gateway-bench-mcp-") as tmp:
        workdir = Path(tmp)
        try:
            ports = {}
            for name, kind in backends.items():
                proc, ports[name] = start_mcp_backend(kind, workdir, name)
                children.append(proc)
            for f in FLAVOURS:
                envoys[f] = EnvoyProcess(f, {}, workdir, mcp_backends=ports, mcp_session_key=key,
                                         mcp_config={"timeoutMs": 10000})
                envoys[f].start()
            # Bare Envoy in front of the called backend: the hop without any filter.
            envoys["envoy"] = EnvoyProcess("bare", {"demo": ports[args.call_backend]}, workdir)
            envoys["envoy"].start()
            for name, reuse in FASTMCP_PROXIES.items() if args.fastmcp else ():
                proxies[name] = start_fastmcp_proxy(name, reuse, ports, workdir)
                children.append(proxies[name][0])
            results = asyncio.run(run(ports, envoys, proxies, args))
        except BenchError as e:
            sys.exit(f"bench mcp: {e}")
        finally:
            for envoy in envoys.values():
                envoy.stop()
            for proc in children:
                stop_child(proc)
    report(results, args)
    tables, checks = summary(results)
    title = (f"{args.rounds} rounds x {args.seconds}s, {args.workers} workers, 1 Envoy worker; "
             f"fan-out over {args.backends}; routed call to `{args.call_backend}`")
    write_json(args.json, "mcp", title, args, tables, checks)


if __name__ == "__main__":
    main()
