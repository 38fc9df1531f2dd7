"""Soak test (`scripts/soak`): one Envoy with the mcp, llm and a2a filters on one listener, mixed
traffic from a few concurrent async clients for a bounded time, Envoy's memory sampled throughout.

Upstreams, all on loopback: the Python SDK MCP server (session mode) behind /mcp, a fake Anthropic
provider (in this process, streaming the documented Messages events in several chunks, one event
split across two) behind /v1 with OpenAI clients translated to it, and the a2a-sdk echo agent on
/a2a/demo/. Traffic: MCP initialize, tools/call and tools/list; OpenAI chat completions (three
streaming for one plain); A2A SendMessage (1.0), message/send (0.3) and the agent card.

Every request is accounted for: `ok` (the expected answer), `error` (a well-formed error in its
protocol: a JSON-RPC error, an OpenAI error object or error event), or `lost` (no answer, a cut or
malformed one, a timeout). Memory: Envoy's RSS (/proc/<pid>/status VmRSS) and its allocator's view
(admin /memory: allocated, heap_size); under Wasm the VMs' linear memories and V8 heaps are in the
RSS only (Envoy exposes no per-VM memory figure), so the Wasm run also samples the live VM count
and VM reloads (`wasm.*` stats: a reload means a filter trapped). After the warm-up (the first 20% of the run) the
first sample is the baseline.

Fails when any request was lost, when Envoy exited, when a Wasm VM was reloaded, or when a memory figure grows after the
warm-up by more than its bound: RSS +32 MiB, allocated +32 MiB (MEMORY_BOUNDS_MIB). Steady state
(pools, caches, connection buffers at their working size) is reached within the warm-up; growth
beyond a bound that size over minutes of the same traffic is a leak.
"""

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench_llm import MESSAGE as LLM_BENCH_MESSAGE, MODEL as LLM_BENCH_MODEL, STREAM_EVENTS
from envoy_process import EnvoyProcess, repo_root, start_mcp_backend, stop_child

# Growth allowed after the warm-up, per sampled figure (MiB).
MEMORY_BOUNDS_MIB = {"rss": 32, "allocated": 32}
WARMUP_FRACTION = 0.2
SAMPLE_SECONDS = 5
# Longest one request may take before it counts as lost.
REQUEST_TIMEOUT = 30.0
OUTCOMES = ("ok", "error", "lost")

ANTHROPIC_KEY = "sk-ant-soak-gateway-owned"
# OpenAI clients ask for this model; the llm filter sends it to the Anthropic fake.
CLIENT_MODEL = "gpt-4o"
# Anthropic's documented Messages response and stream, as the LLM benchmark's fake serves them.
PROVIDER_MODEL = LLM_BENCH_MODEL
STREAM_TEXT = "Hello!"
MESSAGE = json.loads(LLM_BENCH_MESSAGE)


class FakeAnthropic:
    """A minimal HTTP/1.1 keep-alive server answering POST /v1/messages like Anthropic: the
    documented message, or its event stream sent chunk by chunk (an event split in two)."""

    def __init__(self) -> None:
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self.connection, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {k.strip().lower(): v.strip()
                           for k, _, v in (line.partition(":") for line in lines[1:] if line)}
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                await self.answer(writer, headers, body)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            # The client closed, or the soak is over (open keep-alive connections are cancelled).
            pass
        finally:
            writer.close()

    async def answer(self, writer: asyncio.StreamWriter, headers: dict, body: bytes) -> None:
        if headers.get("x-api-key") != ANTHROPIC_KEY:
            error = {"type": "error", "error": {"type": "authentication_error",
                                                "message": "invalid x-api-key"}}
            return await self.full(writer, 401, json.dumps(error).encode())
        request = json.loads(body or b"{}")
        if not request.get("stream"):
            return await self.full(writer, 200, json.dumps(MESSAGE).encode())
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"transfer-encoding: chunked\r\n\r\n")
        for name, data in STREAM_EVENTS:
            event = f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()
            # One event in two chunks: the filter's stream parser must join them.
            parts = [event[:20], event[20:]] if name == "content_block_delta" else [event]
            for part in parts:
                writer.write(b"%x\r\n%s\r\n" % (len(part), part))
                await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    @staticmethod
    async def full(writer: asyncio.StreamWriter, status: int, body: bytes) -> None:
        writer.write(b"HTTP/1.1 %d X\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
                     % (status, len(body)) + body)
        await writer.drain()


@dataclass
class Tally:
    """Requests by kind and outcome, plus a few examples of what went wrong."""

    counts: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)

    def add(self, kind: str, outcome: str, detail: str = "") -> None:
        self.counts[(kind, outcome)] += 1
        if outcome != "ok" and len(self.examples.get(kind, [])) < 3:
            self.examples.setdefault(kind, []).append(f"{outcome}: {detail[:300]}")

    def kinds(self) -> list[str]:
        return sorted({kind for kind, _ in self.counts})

    def total(self, outcome: str) -> int:
        return sum(n for (_, o), n in self.counts.items() if o == outcome)


def jsonrpc_outcome(response: httpx.Response, want_id) -> tuple[str, dict | str]:
    """`ok` with the result, `error` with the error object, or `lost` with why, for a JSON-RPC
    answer in JSON or SSE."""
    text = response.text
    messages = []
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        for line in text.splitlines():
            if line.startswith("data:"):
                try:
                    messages.append(json.loads(line[5:]))
                except ValueError:
                    return "lost", f"unreadable SSE data: {line[:200]}"
    else:
        try:
            messages.append(json.loads(text))
        except ValueError:
            return "lost", f"HTTP {response.status_code}, not JSON: {text[:200]}"
    for message in messages:
        if isinstance(message, dict) and message.get("id") == want_id:
            if "result" in message:
                return "ok", message["result"]
            error = message.get("error")
            if isinstance(error, dict) and isinstance(error.get("code"), int):
                return "error", error
    return "lost", f"HTTP {response.status_code}, no answer to id {want_id}: {text[:200]}"


class Traffic:
    """The clients: each loops over its kind's requests until the deadline."""

    def __init__(self, base: str, deadline: float, tally: Tally) -> None:
        self.base = base
        self.deadline = deadline
        self.tally = tally

    async def timed(self, kind: str, request) -> None:
        """Runs one request coroutine; a transport failure or timeout is a lost request."""
        try:
            outcome, detail = await asyncio.wait_for(request, REQUEST_TIMEOUT)
        except (httpx.HTTPError, asyncio.TimeoutError, ConnectionError) as e:
            outcome, detail = "lost", f"{type(e).__name__}: {e}"
        self.tally.add(kind, outcome, str(detail))

    async def mcp(self, client: httpx.AsyncClient, worker: int) -> None:
        headers = {"accept": "application/json, text/event-stream"}
        session = {}
        n = 0
        while time.monotonic() < self.deadline:
            if "mcp-session-id" not in session or n % 100 == 0:
                await self.timed("mcp initialize", self.mcp_initialize(client, headers, session))
                n += 1
                continue
            message = f"w{worker}-{n}"
            if n % 3 == 0:
                body = {"jsonrpc": "2.0", "id": n, "method": "tools/list"}
                await self.timed("mcp tools/list", self.mcp_call(client, headers | session, body, None))
            else:
                body = {"jsonrpc": "2.0", "id": n, "method": "tools/call",
                        "params": {"name": "session_echo", "arguments": {"message": message}}}
                await self.timed("mcp tools/call",
                                 self.mcp_call(client, headers | session, body, f"session: {message}"))
            n += 1

    async def mcp_initialize(self, client, headers, session) -> tuple[str, object]:
        body = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "soak", "version": "1"}}}
        response = await client.post("/mcp", json=body, headers=headers)
        outcome, detail = jsonrpc_outcome(response, 0)
        token = response.headers.get("mcp-session-id")
        if outcome == "ok" and not token:
            return "lost", "initialize without a session token"
        if token:
            session.clear()
            session.update({"mcp-session-id": token, "mcp-protocol-version": "2025-11-25"})
        return outcome, detail

    async def mcp_call(self, client, headers, body, echo: str | None) -> tuple[str, object]:
        response = await client.post("/mcp", json=body, headers=headers)
        outcome, detail = jsonrpc_outcome(response, body["id"])
        if outcome != "ok":
            return outcome, detail
        if echo is None:
            names = [tool.get("name") for tool in detail.get("tools", [])]
            return ("ok", "") if "session_echo" in names else ("lost", f"tool list {names}")
        texts = [part.get("text") for part in detail.get("content", [])]
        return ("ok", "") if echo in texts else ("lost", f"tool answer {texts}, wanted {echo}")

    async def llm(self, client: httpx.AsyncClient, worker: int) -> None:
        n = 0
        while time.monotonic() < self.deadline:
            stream = n % 4 != 3
            kind = "llm chat stream" if stream else "llm chat"
            await self.timed(kind, self.llm_chat(client, stream, f"w{worker}-{n}"))
            n += 1

    async def llm_chat(self, client, stream: bool, prompt: str) -> tuple[str, object]:
        body = {"model": CLIENT_MODEL, "stream": stream, "max_tokens": 64,
                "messages": [{"role": "user", "content": prompt}]}
        headers = {"authorization": "Bearer sk-client-own-key"}
        async with client.stream("POST", "/v1/chat/completions", json=body, headers=headers) as r:
            raw = (await r.aread()).decode("utf-8", "replace")
        if r.status_code != 200:
            return openai_error(r.status_code, raw)
        if not stream:
            try:
                text = json.loads(raw)["choices"][0]["message"]["content"]
            except (ValueError, KeyError, IndexError, TypeError):
                return "lost", f"not a chat completion: {raw[:200]}"
            return ("ok", "") if text == MESSAGE["content"][0]["text"] else ("lost", raw[:200])
        return openai_stream(raw)

    async def a2a(self, client: httpx.AsyncClient, worker: int) -> None:
        n = 0
        while time.monotonic() < self.deadline:
            if n % 10 == 9:
                await self.timed("a2a card", self.a2a_card(client))
            elif n % 2 == 0:
                await self.timed("a2a SendMessage", self.a2a_send(client, f"w{worker} {n}", True))
            else:
                await self.timed("a2a message/send", self.a2a_send(client, f"w{worker} {n}", False))
            n += 1

    async def a2a_send(self, client, text: str, v1: bool) -> tuple[str, object]:
        if v1:
            message = {"messageId": uuid.uuid4().hex, "role": "ROLE_USER", "parts": [{"text": text}]}
            body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage",
                    "params": {"message": message}}
            headers = {"a2a-version": "1.0"}
        else:
            message = {"messageId": uuid.uuid4().hex, "role": "user", "kind": "message",
                       "parts": [{"kind": "text", "text": text}]}
            body = {"jsonrpc": "2.0", "id": 1, "method": "message/send",
                    "params": {"message": message}}
            headers = {}
        response = await client.post("/a2a/demo/", json=body, headers=headers)
        outcome, detail = jsonrpc_outcome(response, 1)
        if outcome == "ok" and text not in json.dumps(detail):
            return "lost", f"the echo is missing: {json.dumps(detail)[:300]}"
        return outcome, detail

    async def a2a_card(self, client) -> tuple[str, object]:
        response = await client.get("/a2a/demo/.well-known/agent-card.json")
        try:
            card = response.json()
        except ValueError:
            return "lost", f"HTTP {response.status_code}, not JSON: {response.text[:200]}"
        urls = [i.get("url", "") for i in card.get("supportedInterfaces", [])]
        if response.status_code == 200 and urls and all(u.startswith(self.base) for u in urls):
            return "ok", ""
        return "lost", f"HTTP {response.status_code}, interfaces {urls}"


def openai_error(status: int, raw: str) -> tuple[str, object]:
    """An OpenAI-format error (`{"error": {"message": ...}}`) is a well-formed error."""
    try:
        error = json.loads(raw)["error"]
        if isinstance(error.get("message"), str):
            return "error", f"HTTP {status}: {error['message']}"
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return "lost", f"HTTP {status}, not an OpenAI error: {raw[:200]}"


def openai_stream(raw: str) -> tuple[str, object]:
    """A complete chat.completion.chunk stream with the expected text, or an error event."""
    text, done = "", False
    for line in raw.splitlines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            done = True
            continue
        try:
            chunk = json.loads(data)
        except ValueError:
            return "lost", f"unreadable chunk: {data[:200]}"
        if "error" in chunk:
            return "error", json.dumps(chunk["error"])[:200]
        for choice in chunk.get("choices", []):
            text += (choice.get("delta") or {}).get("content") or ""
    if done and text == STREAM_TEXT:
        return "ok", ""
    return "lost", f"stream done={done} text={text!r}: {raw[-200:]}"


@dataclass
class Sample:
    at: float
    rss: int
    allocated: int
    heap: int
    # Wasm only: live VMs (`wasm.envoy.wasm.runtime.v8.active`) and VM reloads after a trap.
    wasm_vms: int
    wasm_reloads: int


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def sample(admin: httpx.AsyncClient, pid: int, started: float) -> Sample:
    memory = (await admin.get("/memory")).json()
    stats = (await admin.get("/stats", params={"filter": "^wasm\\."})).text
    vms = reloads = 0
    for line in stats.splitlines():
        name, _, value = line.partition(": ")
        if name == "wasm.envoy.wasm.runtime.v8.active":
            vms = int(value)
        elif name.endswith(".vm_reload"):
            reloads += int(value)
    return Sample(time.monotonic() - started, rss_bytes(pid), int(memory.get("allocated", 0)),
                  int(memory.get("heap_size", 0)), vms, reloads)


def mib(n: float) -> str:
    return f"{n / 2**20:.1f}"


def start_agent(workdir: Path) -> tuple[subprocess.Popen, int]:
    """The a2a-sdk echo agent (fast words, so the soak is not all waiting)."""
    log = open(workdir / "a2a-agent.log", "w")
    agent = subprocess.Popen(
        [sys.executable, str(repo_root() / "test-harness/clients/a2a_agent.py"),
         "--port", "0", "--word-delay", "0.001"], stdout=subprocess.PIPE, stderr=log, text=True)
    for line in agent.stdout:
        if line.startswith("READY "):
            return agent, int(line.split()[1])
    raise SystemExit(f"a2a agent exited with status {agent.wait()}")


async def soak(args, envoy: EnvoyProcess) -> bool:
    started = time.monotonic()
    deadline = started + args.minutes * 60
    warm_at = args.minutes * 60 * WARMUP_FRACTION
    tally = Tally()
    base = envoy.url("")
    traffic = Traffic(base, deadline, tally)
    limits = httpx.Limits(max_connections=args.clients * 3 + 2)
    timeout = httpx.Timeout(REQUEST_TIMEOUT)
    samples: list[Sample] = []
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=timeout) as client, \
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{envoy.admin_port}", timeout=10) as admin:
        workers = [asyncio.create_task(job(client, w))
                   for w in range(args.clients) for job in (traffic.mcp, traffic.llm, traffic.a2a)]
        last_report = 0.0
        while time.monotonic() < deadline and envoy.proc.poll() is None:
            samples.append(await sample(admin, envoy.proc.pid, started))
            s = samples[-1]
            if s.at - last_report >= 60 or len(samples) == 1:
                last_report = s.at
                print(f"  {s.at / 60:5.1f} min  requests ok {tally.total('ok'):7d} "
                      f"error {tally.total('error'):4d} lost {tally.total('lost'):4d}  "
                      f"rss {mib(s.rss)} MiB  allocated {mib(s.allocated)} MiB", flush=True)
            await asyncio.sleep(SAMPLE_SECONDS)
        await asyncio.gather(*workers)
        if envoy.proc.poll() is None:
            samples.append(await sample(admin, envoy.proc.pid, started))
    return report(args, envoy, tally, samples, warm_at, time.monotonic() - started)


def report(args, envoy, tally: Tally, samples: list[Sample], warm_at: float, took: float) -> bool:
    failures = []
    print(f"\nsoak: {args.flavour}, {took / 60:.1f} min, {args.clients} client(s) per kind, "
          f"Envoy concurrency {args.concurrency}")
    print(f"{'requests':20} {'sent':>8} {'answered':>9} {'ok':>8} {'error':>6} {'lost':>5}")
    for kind in tally.kinds() + ["total"]:
        n = {o: (tally.total(o) if kind == "total" else tally.counts[(kind, o)]) for o in OUTCOMES}
        sent = sum(n.values())
        print(f"{kind:20} {sent:8d} {n['ok'] + n['error']:9d} {n['ok']:8d} {n['error']:6d} {n['lost']:5d}")
    for kind, examples in tally.examples.items():
        for example in examples:
            print(f"  {kind}: {example}")
    if tally.total("lost"):
        failures.append(f"{tally.total('lost')} request(s) lost")
    if envoy.proc.poll() is not None:
        failures.append(f"Envoy exited with status {envoy.proc.returncode}")
    warm = [s for s in samples if s.at >= warm_at]
    if not samples or not warm:
        failures.append("too few memory samples")
    else:
        print(f"\nmemory (MiB; {len(samples)} samples every {SAMPLE_SECONDS}s, warm-up "
              f"{warm_at / 60:.1f} min; baseline = first sample after it)")
        print(f"{'':10} {'start':>8} {'baseline':>9} {'end':>8} {'max':>8} {'growth':>8} {'bound':>6}")
        for name in ("rss", "allocated", "heap"):
            values = [getattr(s, name) for s in samples]
            base = getattr(warm[0], name)
            growth = max(getattr(s, name) for s in warm) - base
            bound = MEMORY_BOUNDS_MIB.get(name)
            print(f"{name:10} {mib(values[0]):>8} {mib(base):>9} {mib(values[-1]):>8} "
                  f"{mib(max(values)):>8} {mib(growth):>8} {bound or '-':>6}")
            if bound is not None and growth > bound * 2**20:
                failures.append(f"{name} grew {mib(growth)} MiB after the warm-up (bound {bound})")
        if args.flavour == "wasm":
            print(f"wasm VMs   start {samples[0].wasm_vms}, end {samples[-1].wasm_vms}, "
                  f"max {max(s.wasm_vms for s in samples)}; VM reloads {samples[-1].wasm_reloads}")
            if samples[-1].wasm_reloads:
                failures.append(f"{samples[-1].wasm_reloads} Wasm VM reload(s): a filter trapped")
    print(f"\nsoak {'FAILED: ' + '; '.join(failures) if failures else 'passed'}", flush=True)
    return not failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flavour", choices=("dynmod", "wasm"), default="dynmod")
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=2, help="concurrent clients per kind")
    parser.add_argument("--concurrency", type=int, default=2, help="Envoy worker threads")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="ai-gateway-soak-") as tmp:
        workdir = Path(tmp)
        children = []
        try:
            agent, agent_port = start_agent(workdir)
            children.append(agent)
            backend, mcp_port = start_mcp_backend("session", workdir)
            children.append(backend)
            ok = asyncio.run(run(args, workdir, agent_port, mcp_port))
        finally:
            for child in children:
                stop_child(child)
    sys.exit(0 if ok else 1)


async def run(args, workdir: Path, agent_port: int, mcp_port: int) -> bool:
    provider = FakeAnthropic()
    await provider.start()
    llm_config = {
        "providers": {"claude": {"kind": "anthropic", "apiKey": ANTHROPIC_KEY}},
        "models": {CLIENT_MODEL: {"provider": "claude", "model": PROVIDER_MODEL}},
    }
    envoy = EnvoyProcess(args.flavour, {"demo": agent_port}, workdir,
                         concurrency=args.concurrency,
                         mcp_backends={"session": mcp_port},
                         mcp_session_key=base64.b64encode(os.urandom(32)).decode(),
                         mcp_config={"timeoutMs": 10000},
                         llm_providers={"claude": provider.port}, llm_config=llm_config)
    await asyncio.to_thread(envoy.start)
    print(f"soak: {args.flavour} Envoy pid {envoy.proc.pid} on {envoy.url('')} for "
          f"{args.minutes} min (log {envoy.log})", flush=True)
    try:
        return await soak(args, envoy)
    finally:
        envoy.stop()
        provider.server.close()


if __name__ == "__main__":
    main()
