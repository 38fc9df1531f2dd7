"""PNG charts for bench/REPORT.md (matplotlib, no display): one per benchmark with throughput and
latency of every row beside its baseline, and a summary of every gateway and peer row's
throughput relative to its baseline with the issues' targets."""

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)

# Bar colour per row kind: the baseline and bare Envoy grey, ours blue, the peers orange.
COLOURS = {"baseline": "#9e9e9e", "bare": "#616161", "gateway": "#1f77b4", "peer": "#ff7f0e"}
# A panel whose largest bar is this many times its smallest gets a log scale, so a slow peer
# does not flatten every other bar.
LOG_SPREAD = 30


def _scale(ax, values: list[float]) -> str:
    """Sets a log scale on `ax` when `values` spread widely; the title suffix saying so."""
    positive = [v for v in values if v > 0]
    if positive and max(positive) / min(positive) > LOG_SPREAD:
        ax.set_xscale("log")
        return " (log scale)"
    return ""


def _bars(ax, rows: list[dict], key: str, title: str, fmt: str) -> None:
    names = [row["name"] for row in rows]
    values = [row.get(key) or 0 for row in rows]
    bars = ax.barh(names, values, color=[COLOURS[row["kind"]] for row in rows])
    ax.bar_label(bars, labels=[fmt.format(v) for v in values], padding=3, fontsize=8)
    ax.invert_yaxis()
    ax.set_title(title + _scale(ax, values), fontsize=10)
    ax.margins(x=0.25)
    ax.tick_params(labelsize=8)


def _latency(ax, rows: list[dict], keys: list[str]) -> None:
    names = [row["name"] for row in rows]
    height = 0.8 / len(keys)
    scale = _scale(ax, [row.get(key) or 0 for row in rows for key in keys])
    for i, key in enumerate(keys):
        values = [row.get(key) or 0 for row in rows]
        positions = [n + (i - (len(keys) - 1) / 2) * height for n in range(len(rows))]
        bars = ax.barh(positions, values, height=height, label=key.removesuffix("_ms"),
                       color=[COLOURS[row["kind"]] for row in rows], alpha=1.0 - 0.45 * i)
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], padding=3, fontsize=7)
    ax.set_yticks(range(len(rows)), names)
    ax.invert_yaxis()
    ax.set_title("latency, ms (" + " / ".join(k.removesuffix("_ms") for k in keys) + ")" + scale,
                 fontsize=10)
    ax.margins(x=0.25)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=7, loc="best")


def bench_chart(bench: dict, path: Path) -> Path:
    """One benchmark: per table, throughput (when measured) and latency side by side."""
    tables = bench["tables"]
    panels = [(table, kind) for table in tables
              for kind in (("rps", "latency") if any(r.get("rps") for r in table["rows"])
                           else ("latency",))]
    height = max(2.2, 0.38 * max(len(t["rows"]) for t in tables) + 1.2)
    columns = 2
    rows_of_panels = (len(panels) + columns - 1) // columns
    fig, axes = plt.subplots(rows_of_panels, columns, figsize=(11, height * rows_of_panels),
                             squeeze=False)
    for ax, (table, kind) in zip(axes.flat, panels):
        if kind == "rps":
            _bars(ax, table["rows"], "rps", f"{table['name']}: requests/s", "{:,.0f}")
        else:
            keys = [k for k in ("p50_ms", "p90_ms", "p99_ms")
                    if any(r.get(k) is not None for r in table["rows"])]
            _latency(ax, table["rows"], keys)
            if len(tables) > 1:
                ax.set_title(f"{table['name']}: {ax.get_title()}", fontsize=10)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"scripts/bench {bench['bench']}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _target(bench: dict, row: str) -> float | None:
    """The throughput-ratio target the benchmark states for `row`, if any."""
    for check in bench["targets"]:
        found = re.match(rf"{re.escape(row)} throughput >= ([\d.]+)x", check["what"])
        if found:
            return float(found.group(1))
    return None


def summary_chart(benches: dict[str, dict], path: Path) -> Path:
    """Every gateway and peer row of each benchmark's first table: throughput relative to the
    table's baseline (1.0 = as fast as it), with the target as a tick where one is set."""
    labels, ratios, colours, targets = [], [], [], []
    for name, bench in benches.items():
        table = bench["tables"][0]
        for row in table["rows"]:
            if row["kind"] in ("gateway", "peer") and row.get("rps_ratio") is not None:
                labels.append(f"{name}: {row['name']}")
                ratios.append(row["rps_ratio"])
                colours.append(COLOURS[row["kind"]])
                targets.append(_target(bench, row["name"]))
    fig, ax = plt.subplots(figsize=(9, 0.32 * len(labels) + 1.4))
    bars = ax.barh(labels, ratios, color=colours)
    ax.bar_label(bars, labels=[f"{r:.3f}x" for r in ratios], padding=3, fontsize=8)
    for y, target in enumerate(targets):
        if target is not None:
            ax.plot([target, target], [y - 0.4, y + 0.4], color="#d62728", linewidth=2)
    ax.axvline(1.0, color="#424242", linewidth=0.8, linestyle="--")
    ax.invert_yaxis()
    ax.set_xlabel("throughput relative to the same run's baseline (bare Envoy; MCP: the client "
                  "itself); red tick: target", fontsize=8)
    ax.margins(x=0.15)
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
