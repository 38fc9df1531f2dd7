"""Same-run benchmark of the `llm` filter (`scripts/bench llm`): OpenAI Chat Completions in,
Anthropic Messages out, through Envoy + llm (dynamic module, Wasm), against bare Envoy proxying
the same Anthropic request to the same fake without translation, and a LiteLLM proxy doing the
same translation in front of the same fake. The `*-noacct` rows turn token accounting off
(`accounting.enabled: false`): their difference to the plain rows is what accounting costs.

The fake provider is nginx answering canned Anthropic wire bodies (the documented Messages
response, and its SSE stream under /sse/), so the fake costs next to nothing and every row
measures its proxy. Throughput rows: wrk in interleaved rounds, one Envoy worker each, medians
and ratios to bare Envoy (non-streaming). Time to first token: one keep-alive client sends
streaming requests one at a time and times the first body bytes (translated `chat.completion.chunk`
events through the gateway, the raw Anthropic events through bare Envoy), interleaved rounds,
medians; the gateway's added TTFT is its median minus bare Envoy's.
"""

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench import measure_rounds, report, start_nginx, summary, write_json
from envoy_process import EnvoyProcess, bench_venv, free_port, repo_root, stop_child, wait_for_port

# Targets from the LLM issue: throughput ratio to bare Envoy, added TTFT in dynmod.
TARGETS = {"dynmod": 0.85, "wasm": 0.65}
TTFT_EXTRA_MS = {"dynmod": 0.1}
# The non-streaming rows, in measuring order (`*-noacct`: translation without token accounting).
THROUGHPUT_ROWS = ("bare", "dynmod", "wasm", "dynmod-noacct", "wasm-noacct", "litellm")
LITELLM_REQUIREMENTS = repo_root() / "test-harness/clients/requirements-litellm.txt"
LITELLM_VENV = repo_root() / ".bench/litellm-venv"
MODEL = "claude-sonnet-4-5"
PROVIDER_CLUSTER = "llm_claude"
PROMPT = [{"role": "user", "content": "Hello, Claude"}]
# The client's request: Chat Completions through the gateway and LiteLLM, Messages through bare
# Envoy (the same request in the provider's own API: nothing to translate).
OPENAI_BODY = json.dumps({"model": MODEL, "max_tokens": 64, "messages": PROMPT})
ANTHROPIC_BODY = json.dumps({"model": MODEL, "max_tokens": 64, "messages": PROMPT})

# Anthropic's documented Messages response and SSE stream (docs.anthropic.com, "Messages" and
# "Streaming Messages").
MESSAGE = json.dumps({
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF", "type": "message", "role": "assistant", "model": MODEL,
    "content": [{"type": "text", "text": "Hi! My name is Claude."}],
    "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": 2095, "output_tokens": 503},
})
STREAM_EVENTS = [
    ("message_start", {"type": "message_start", "message": {
        "id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message", "role": "assistant",
        "content": [], "model": MODEL, "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 25, "output_tokens": 1}}}),
    ("content_block_start", {"type": "content_block_start", "index": 0,
                             "content_block": {"type": "text", "text": ""}}),
    ("ping", {"type": "ping"}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": "Hello"}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0,
                             "delta": {"type": "text_delta", "text": "!"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("message_delta", {"type": "message_delta",
                       "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                       "usage": {"output_tokens": 15}}),
    ("message_stop", {"type": "message_stop"}),
]
STREAM = "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in STREAM_EVENTS)
LOCATIONS = f"""
    location /sse/ {{
      default_type text/event-stream;
      return 200 '{STREAM}';
    }}
    location / {{
      default_type application/json;
      return 200 '{MESSAGE}';
    }}
"""


def llm_config(stream: bool, accounting: bool = True) -> dict:
    """The llm filter's config: every request to the Anthropic fake (its SSE location when
    `stream`); token accounting (usage, gen_ai metrics, request attributes) unless told not."""
    provider = {"kind": "anthropic", "apiKey": "sk-ant-bench"}
    if stream:
        provider["pathPrefix"] = "/sse"
    config = {"providers": {"claude": provider}, "defaultProvider": "claude"}
    if not accounting:
        config["accounting"] = {"enabled": False}
    return config


class LiteLlm:
    """A LiteLLM proxy (its own venv) routing MODEL to the Anthropic fake; `proc` and `url()` as
    EnvoyProcess, so the bench runner measures it alike."""

    def __init__(self, workdir: Path, fake_port: int):
        self.port = free_port()
        config = workdir / "litellm.yaml"
        config.write_text(json.dumps({
            "model_list": [{"model_name": MODEL, "litellm_params": {
                "model": f"anthropic/{MODEL}", "api_base": f"http://127.0.0.1:{fake_port}",
                "api_key": "sk-ant-bench"}}],
            "litellm_settings": {"telemetry": False},
            # No client authentication, as on the gateway rows (LiteLLM refuses to start
            # without a master key unless told this is deliberate).
            "general_settings": {"dangerously_permit_weak_or_unset_master_key": True},
        }))
        python = bench_venv(LITELLM_VENV, LITELLM_REQUIREMENTS)
        # Offline: the model cost map ships in the package; no telemetry.
        env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_TELEMETRY="False")
        self.log = workdir / "litellm.log"
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(
                [str(python.parent / "litellm"), "--config", str(config), "--host", "127.0.0.1",
                 "--port", str(self.port), "--num_workers", "1"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        try:
            wait_for_port(self.port, self.proc, "litellm", timeout=120)
        except SystemExit:
            print(self.log.read_text())
            raise

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        stop_child(self.proc)


def wrk_script(workdir: Path, name: str, body: str, headers: dict[str, str]) -> Path:
    script = workdir / f"{name}.lua"
    lines = ['wrk.method = "POST"', f"wrk.body = [[{body}]]",
             'wrk.headers["Content-Type"] = "application/json"']
    lines += [f'wrk.headers["{key}"] = "{value}"' for key, value in headers.items()]
    script.write_text("\n".join(lines) + "\n")
    return script


def post(port: int, path: str, body: str, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", body.encode(),
                                     {"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def check(name: str, port: int, path: str, body: str, headers: dict[str, str],
          expect: str) -> None:
    """Exits unless the proxy answers `body` with a 200 containing `expect` (the wire format
    the client asked for), so no row measures error responses."""
    status, text = post(port, path, body, headers)
    if status != 200 or expect not in text:
        sys.exit(f"bench llm: {name} answered {status}: {text[:500]}")


def first_body_seconds(conn: http.client.HTTPConnection, path: str, body: str,
                       headers: dict[str, str]) -> float:
    """Seconds from sending a streaming request to its first body bytes; drains the rest."""
    start = time.perf_counter()
    conn.request("POST", path, body, {"Content-Type": "application/json", **headers})
    response = conn.getresponse()
    first = response.read1(65536)
    elapsed = time.perf_counter() - start
    response.read()
    if response.status != 200 or not first:
        sys.exit(f"bench llm: streaming request to {path} answered {response.status}")
    return elapsed


def measure_ttft(targets: dict[str, tuple[int, str, str, dict[str, str]]], rounds: int,
                 requests: int) -> dict[str, list[float]]:
    """Interleaved rounds of `requests` sequential streaming requests per target over one
    keep-alive connection each; per name, every time to first body bytes in milliseconds."""
    conns = {name: http.client.HTTPConnection("127.0.0.1", port, timeout=30)
             for name, (port, _, _, _) in targets.items()}
    samples: dict[str, list[float]] = {name: [] for name in targets}
    for name, (_, path, body, headers) in targets.items():  # warm-up
        for _ in range(50):
            first_body_seconds(conns[name], path, body, headers)
    for rnd in range(rounds):
        for name, (_, path, body, headers) in targets.items():
            times = [first_body_seconds(conns[name], path, body, headers) * 1e3
                     for _ in range(requests)]
            samples[name] += times
            print(f"round {rnd + 1} {name:12} TTFT p50 {statistics.median(times):6.3f} ms",
                  flush=True)
    for conn in conns.values():
        conn.close()
    return samples


def ttft_summary(samples: dict[str, list[float]]) -> tuple[dict, list[dict]]:
    """The time-to-first-bytes medians as a table for `--json`, and the TTFT target's verdict."""
    bare = statistics.median(samples["bare"])
    rows, checks = [], []
    for name, times in samples.items():
        times = sorted(times)
        p50 = statistics.median(times)
        rows.append({"name": name, "p50_ms": p50, "p90_ms": times[int(len(times) * 0.9)],
                     "added_ms": p50 - bare, "kind": "baseline" if name == "bare" else "gateway"})
        if name in TTFT_EXTRA_MS:
            checks.append({"issue": 8, "what": f"{name} streaming time to first token <= "
                                               f"+{TTFT_EXTRA_MS[name]} ms over bare Envoy",
                           "value": f"{p50 - bare:+.3f} ms", "met": p50 - bare <= TTFT_EXTRA_MS[name]})
    return {"name": "time to first token (streaming)", "baseline": "bare", "rows": rows}, checks


def report_ttft(samples: dict[str, list[float]]) -> None:
    bare = statistics.median(samples["bare"])
    print(f"{'flavour':12} {'TTFT p50 ms':>11} {'p90 ms':>7} {'added ms':>8}  target")
    for name, times in samples.items():
        times = sorted(times)
        p50 = statistics.median(times)
        p90 = times[int(len(times) * 0.9)]
        target = TTFT_EXTRA_MS.get(name)
        verdict = ""
        if target is not None:
            verdict = f"<= +{target} ms {'met' if p50 - bare <= target else 'MISSED'}"
        print(f"{name:12} {p50:11.3f} {p90:7.3f} {p50 - bare:+8.3f}  {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=8, help="length of one measured run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per flavour")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--ttft-requests", type=int, default=500,
                        help="sequential streaming requests per flavour and round")
    parser.add_argument("--no-litellm", action="store_true", help="skip the LiteLLM row")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON here")
    args = parser.parse_args()

    bare_headers = {"x-ai-gateway-llm-cluster": PROVIDER_CLUSTER}
    with tempfile.TemporaryDirectory(prefix="ai-gateway-bench-llm-") as tmp:
        workdir = Path(tmp)
        nginx, fake_port = start_nginx(workdir, LOCATIONS)
        proxies = {}
        try:
            for stream in (False, True):
                for flavour in ("bare", "dynmod", "wasm"):
                    name = f"{flavour}-stream" if stream else flavour
                    sub = workdir / name
                    sub.mkdir()
                    proxies[name] = EnvoyProcess(flavour, {}, sub,
                                                 llm_providers={"claude": fake_port},
                                                 llm_config=llm_config(stream))
            # Translation only: what token accounting costs on top.
            for flavour in ("dynmod", "wasm"):
                name = f"{flavour}-noacct"
                sub = workdir / name
                sub.mkdir()
                proxies[name] = EnvoyProcess(flavour, {}, sub, llm_providers={"claude": fake_port},
                                             llm_config=llm_config(False, accounting=False))
            for envoy in proxies.values():
                envoy.start()
            if not args.no_litellm:
                proxies["litellm"] = LiteLlm(workdir, fake_port)

            gateway = ("/v1/chat/completions", OPENAI_BODY, {})
            bare = ("/v1/messages", ANTHROPIC_BODY, bare_headers)
            for name in THROUGHPUT_ROWS:
                if name in proxies:
                    path, body, headers = bare if name == "bare" else gateway
                    expect = '"type": "message"' if name == "bare" else "chat.completion"
                    check(name, proxies[name].port, path, body, headers, expect)
            scripts = {"bare": ("/v1/messages", wrk_script(workdir, "bare", ANTHROPIC_BODY,
                                                           bare_headers))}
            gateway_script = wrk_script(workdir, "gateway", OPENAI_BODY, {})
            throughput = {name: proxies[name] for name in THROUGHPUT_ROWS if name in proxies}
            results = measure_rounds(throughput, "/v1/chat/completions", args, gateway_script,
                                     scripts)

            stream_openai = json.dumps({"model": MODEL, "max_tokens": 64, "stream": True,
                                        "messages": PROMPT})
            stream_anthropic = json.dumps({"model": MODEL, "max_tokens": 64, "stream": True,
                                           "messages": PROMPT})
            ttft_targets = {
                "bare": (proxies["bare-stream"].port, "/sse/v1/messages", stream_anthropic,
                         bare_headers),
                "dynmod": (proxies["dynmod-stream"].port, "/v1/chat/completions", stream_openai,
                           {}),
                "wasm": (proxies["wasm-stream"].port, "/v1/chat/completions", stream_openai, {}),
            }
            ttft = measure_ttft(ttft_targets, args.rounds, args.ttft_requests)
        finally:
            for proxy in proxies.values():
                proxy.stop()
            nginx.terminate()
            nginx.wait()

    title = (f"OpenAI chat completion in, Anthropic message out ({args.rounds} rounds x "
             f"{args.seconds}s, {args.connections} connections, 1 Envoy worker; bare Envoy proxies "
             f"the Anthropic request untranslated)")
    print(f"\nllm: {title}")
    report(results, TARGETS)
    print(f"\nllm streaming: time to first body bytes, {args.rounds} rounds x "
          f"{args.ttft_requests} sequential requests")
    report_ttft(ttft)
    table, checks = summary(results, TARGETS, issue=8, peers=("litellm",))
    ttft_table, ttft_checks = ttft_summary(ttft)
    title += (f"; streaming: time to first body bytes, {args.rounds} rounds x "
              f"{args.ttft_requests} sequential requests")
    write_json(args.json, "llm", title, args, [table, ttft_table], checks + ttft_checks)


if __name__ == "__main__":
    main()
