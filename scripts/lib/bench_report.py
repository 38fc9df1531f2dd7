"""`scripts/bench all`: runs every benchmark in one go and writes bench/REPORT.md with PNG charts.

Each benchmark (passthrough, mcp, auth, llm, inference) runs as its own process with `--json`,
one after the other, so they never compete for the cores; --seconds and --rounds are passed to
every one of them (a short run to check the machinery: --seconds 2 --rounds 1). The report puts
each benchmark's tables side by side with its baseline (bare Envoy, or the client doing the work
itself for MCP) and the peers run in the same process (LiteLLM, FastMCP), the issues' targets
with their verdicts, the machine and the versions. `render` rebuilds the report from the JSON
results of an earlier run (bench/results/) without measuring again.
"""

import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

from bench_charts import bench_chart, summary_chart
from envoy_process import envoy_binary, repo_root

# Benchmark name → its script in scripts/lib, in running order.
BENCHES = {
    "passthrough": "bench.py",
    "mcp": "bench_mcp.py",
    "auth": "bench_auth.py",
    "llm": "bench_llm.py",
    "inference": "bench_inference.py",
}
# What each benchmark measures, for the report's headings.
ABOUT = {
    "passthrough": "a2a filter on a request it inspects but does not rewrite (issue 3)",
    "mcp": "mcp filter: fan-out tools/list over three real MCP servers and a routed tools/call "
           "(issue 4), with a FastMCP proxy as peer",
    "auth": "authz filter: RS256 JWT + one CEL rule (issue 6)",
    "llm": "llm filter: OpenAI in, Anthropic out (issue 8), with a LiteLLM proxy as peer",
    "inference": "inference filter behind ext_proc and a fake endpoint picker (issue 10)",
}
# Table columns: row key → (heading, format); a column shows when any row of the table has it.
COLUMNS = {
    "rps": ("req/s", "{:,.0f}"),
    "p50_ms": ("p50 ms", "{:.2f}"),
    "p90_ms": ("p90 ms", "{:.2f}"),
    "p99_ms": ("p99 ms", "{:.2f}"),
    "cpu_us": ("CPU µs/req", "{:.1f}"),
    "client_cores": ("client cores", "{:.2f}"),
    "rps_ratio": ("req/s ratio", "{:.3f}x"),
    "p50_ratio": ("p50 ratio", "{:.3f}x"),
    "p99_ratio": ("p99 ratio", "{:.3f}x"),
    "cpu_ratio": ("CPU ratio", "{:.3f}x"),
    "added_ms": ("p50 added ms", "{:+.3f}"),
}
KIND_NOTE = {"baseline": " (baseline)", "bare": " (bare Envoy)", "peer": " (peer)"}


def command_output(cmd: list[str]) -> str:
    """A command's first output line, or what went wrong."""
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, cwd=repo_root())
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e.__class__.__name__})"


def pinned(requirements: str, package: str) -> str:
    """The version `package` is pinned to in test-harness/clients/<requirements>."""
    text = (repo_root() / "test-harness/clients" / requirements).read_text()
    found = re.search(rf"^{re.escape(package)}(?:\[[^\]]*\])?==(\S+)", text, re.M)
    return found.group(1) if found else "unpinned"


def machine() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    memory = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    return {
        "cores (nproc)": str(os.cpu_count()),
        "CPU": model.group(1) if model else platform.processor() or "unknown",
        "memory": f"{int(memory.group(1)) / 2**20:.1f} GiB" if memory else "unknown",
        "kernel": f"{platform.system()} {platform.release()}",
        "load average at start (1/5/15 min)": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def versions() -> dict[str, str]:
    rev = command_output(["git", "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, cwd=repo_root()).stdout.strip()
    envoy = command_output([envoy_binary(), "--version"])
    envoy_version = re.search(r"/(\d+\.\d+\.\d+)/", envoy)
    return {
        "gateway (git)": rev + (" with uncommitted changes" if dirty else ""),
        "Envoy": envoy_version.group(1) if envoy_version else envoy,
        "rustc": command_output(["rustc", "--version"]),
        "Python": platform.python_version(),
        "wrk": command_output(["wrk", "-v"]).split(" Copyright")[0],
        "nginx (fake upstreams)": command_output(["nginx", "-v"]),
        "LiteLLM (peer)": pinned("requirements-litellm.txt", "litellm"),
        "FastMCP (peer)": pinned("requirements-fastmcp.txt", "fastmcp"),
    }


def run_benches(names: list[str], passthrough: list[str], results: Path) -> dict[str, str]:
    """Runs each benchmark with `--json results/<name>.json`, its output shown and kept in
    results/<name>.log; returns the failed ones with their exit status."""
    failed = {}
    for name in names:
        json_path = results / f"{name}.json"
        json_path.unlink(missing_ok=True)
        cmd = [sys.executable, "-u", str(Path(__file__).with_name(BENCHES[name])),
               *passthrough, "--json", str(json_path)]
        print(f"\n=== bench {name}: {' '.join(cmd[2:])}", flush=True)
        started = time.monotonic()
        with open(results / f"{name}.log", "w") as log:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, cwd=repo_root())
            for line in proc.stdout:
                sys.stdout.write(line)
                log.write(line)
            proc.wait()
        print(f"=== bench {name}: exit {proc.returncode} after "
              f"{time.monotonic() - started:.0f}s", flush=True)
        if proc.returncode != 0 or not json_path.exists():
            failed[name] = f"exit status {proc.returncode}"
    return failed


def cell(row: dict, key: str) -> str:
    value = row.get(key)
    return "–" if value is None else COLUMNS[key][1].format(value)


def markdown_table(table: dict) -> list[str]:
    keys = [k for k in COLUMNS if any(row.get(k) is not None for row in table["rows"])]
    lines = ["| row | " + " | ".join(COLUMNS[k][0] for k in keys) + " |",
             "|---|" + "---:|" * len(keys)]
    for row in table["rows"]:
        name = f"{row['name']}{KIND_NOTE.get(row['kind'], '')}"
        lines.append(f"| {name} | " + " | ".join(cell(row, k) for k in keys) + " |")
    return lines


def headline(benches: dict[str, dict]) -> list[str]:
    """One line per gateway or peer row of every throughput table: its ratios to the table's
    baseline."""
    lines = ["| benchmark | row | req/s ratio | p50 ratio | p99 ratio | vs |",
             "|---|---|---:|---:|---:|---|"]
    for name, bench in benches.items():
        for table in bench["tables"]:
            if not any(row.get("rps_ratio") is not None for row in table["rows"]):
                continue
            for row in table["rows"]:
                if row["kind"] in ("gateway", "peer"):
                    lines.append(f"| {name} | {row['name']}{KIND_NOTE.get(row['kind'], '')} | "
                                 f"{cell(row, 'rps_ratio')} | {cell(row, 'p50_ratio')} | "
                                 f"{cell(row, 'p99_ratio')} | {table['baseline']} |")
    return lines


def render(out: Path, results: Path, names: list[str], failed: dict[str, str],
           started: str, duration: str, info: dict[str, dict[str, str]]) -> Path:
    benches = {}
    for name in names:
        path = results / f"{name}.json"
        if name not in failed and path.exists():
            benches[name] = json.loads(path.read_text())
    charts = {name: bench_chart(bench, out / f"bench-{name}.png") for name, bench in benches.items()}
    summary = summary_chart(benches, out / "bench-summary.png") if benches else None

    lines = ["# Benchmark report", "",
             f"Written by `scripts/bench all` ({started}, {duration}). Every row of a table was "
             "measured in the same run, in interleaved rounds, on the machine below; only the "
             "ratios within a table mean something, not the absolute figures, which depend on "
             "the machine and its load. Medians over the rounds.", ""]
    lines += ["## Headline", "", *headline(benches), ""]
    if summary:
        lines += [f"![throughput relative to the baseline]({summary.name})", ""]
    lines += ["## Targets", "", "| issue | target | measured | verdict |", "|---|---|---|---|"]
    for bench in benches.values():
        for check in bench["targets"]:
            lines.append(f"| {check['issue']} | {check['what']} | {check['value']} | "
                         f"{'met' if check['met'] else '**missed**'} |")
    lines.append("")
    for name in names:
        lines += [f"## {name}: {ABOUT[name]}", ""]
        if name not in benches:
            lines += [f"Did not complete ({failed.get(name, 'no results')}); its output is in "
                      f"`{results.relative_to(out)}/{name}.log`.", ""]
            continue
        bench = benches[name]
        lines += [bench["title"] + ".", ""]
        if charts.get(name):
            lines += [f"![{name}]({charts[name].name})", ""]
        for table in bench["tables"]:
            lines += [f"**{table['name']}**, ratios to `{table['baseline']}`:", "",
                      *markdown_table(table), ""]
    for heading, values in info.items():
        lines += [f"## {heading}", "", "| | |", "|---|---|"]
        lines += [f"| {key} | {value} |" for key, value in values.items()]
        lines.append("")
    report = out / "REPORT.md"
    report.write_text("\n".join(lines))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench all", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", nargs="?", choices=("run", "render"), default="run",
                        help="run the benchmarks and report (default), or only re-render")
    parser.add_argument("--seconds", type=int, help="length of one measured run, for every bench")
    parser.add_argument("--rounds", type=int, help="interleaved rounds, for every bench")
    parser.add_argument("--only", default=",".join(BENCHES),
                        help=f"comma-separated subset of {', '.join(BENCHES)} (run only)")
    parser.add_argument("--out", default=str(repo_root() / "bench"),
                        help="where REPORT.md, the charts and results/ go (default: bench/)")
    args = parser.parse_args()
    names = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = [name for name in names if name not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)} (one of {', '.join(BENCHES)})")
    out = Path(args.out).resolve()
    results = out / "results"
    results.mkdir(parents=True, exist_ok=True)

    # What the report says about the run (machine, versions, failures), kept beside the results
    # so that `render` tells the same.
    run_file = results / "run.json"
    if args.mode == "run":
        started = datetime.datetime.now(datetime.timezone.utc)
        info = {"Machine": machine(), "Versions": versions()}
        passthrough = []
        if args.seconds is not None:
            passthrough += ["--seconds", str(args.seconds)]
        if args.rounds is not None:
            passthrough += ["--rounds", str(args.rounds)]
        failed = run_benches(names, passthrough, results)
        elapsed = (datetime.datetime.now(datetime.timezone.utc) - started).total_seconds()
        info["Machine"]["load average at the end"] = " / ".join(f"{x:.2f}" for x in os.getloadavg())
        run = {"started": started.strftime("%Y-%m-%d %H:%M UTC"),
               "duration": f"{elapsed / 60:.0f} min, options: {' '.join(passthrough) or 'defaults'}",
               "names": names, "failed": failed, "info": info}
        run_file.write_text(json.dumps(run, indent=2) + "\n")
    elif run_file.exists():
        run = json.loads(run_file.read_text())
    else:
        sys.exit(f"bench: no earlier run in {results} to render")
    report = render(out, results, run["names"], run["failed"], run["started"], run["duration"],
                    run["info"])
    failed = run["failed"]
    print(f"\nbench: wrote {report} and its charts")
    if failed:
        sys.exit(f"bench: failed: {', '.join(f'{n} ({why})' for n, why in failed.items())}")


if __name__ == "__main__":
    main()
