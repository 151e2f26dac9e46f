"""Run every benchmark, then print one combined table of edgetrack against the anchors, with targets.

    python3 dev.py bench [--quick]          # = .venv/bin/python benchmarks/run_all.py [--quick]
    .venv/bin/python benchmarks/run_all.py --report-only     # rebuild the table from results/*.json

Runs, in turn (each its own process; each docstring says how every system is configured):
``enqueue.py`` (``track()`` rate and latency, start-up), ``e2e.py`` (delivered/s, CPU, bytes and
requests; with ``--profile``: a py-spy profile of edgetrack), ``backlog.py`` (one million events offline
then drained: time and RSS), ``faults.py`` (events lost through 429s, a 413, a poisoned event and an
outage), ``energy.py`` (radio energy, simulated), ``plugins.py`` (what 0, 1 and 3 plugins cost
``track()``), ``outage.py`` (how soon uploads resume when the network returns; Linux, in a
network namespace) and ``wear.py`` (bytes written to storage per event). ``--quick`` passes on
to each (a smoke run: smaller N, a 100,000-event backlog, shorter traces).

Then it reads their ``results/*.json`` (only files written by this run, unless ``--report-only``) and
writes ``results/summary.json``, ``results/summary.md`` (the table as Markdown, ready for the README)
and ``results/performance.png`` (throughput and latency per system). Anchors: segment-analytics-python
and posthog-python (in memory), persist-queue (durable ``SQLiteQueue``) and the "SQLite limit" (one
``executemany`` of the same JSON rows in one transaction). Every figure is from the same run on the
same machine; ratios are edgetrack / anchor. Targets (issue 7) print PASS or FAIL as measured; the
exit status is non-zero only when a benchmark failed to run (or, with ``--strict``, a target failed).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
BENCHMARKS = {
    "enqueue": ["enqueue.py"],
    "e2e": ["e2e.py", "--profile"],
    "backlog": ["backlog.py"],
    "faults": ["faults.py"],
    "energy": ["energy.py"],
    "plugins": ["plugins.py"],
    "outage": ["outage.py"],
    "wear": ["wear.py"],
}
COLUMNS = ["edgetrack", "segment", "posthog", "persist-queue", "SQLite limit"]
PACKAGES = ["edgetrack", "segment-analytics-python", "posthog", "persist-queue"]


def run(names: list[str], quick: bool) -> dict[str, int]:
    codes = {}
    for name in names:
        script, *extra = BENCHMARKS[name]
        print(f"\n== {script}{' --quick' if quick else ''}", flush=True)
        started = time.monotonic()
        argv = [sys.executable, str(HERE / script), *extra, *(["--quick"] if quick else [])]
        codes[name] = subprocess.run(argv).returncode
        print(f"== {script}: exit {codes[name]}, {time.monotonic() - started:.0f} s", flush=True)
    return codes


def load(names: list[str], since: float | None) -> dict[str, Any]:
    found = {}
    for name in names:
        path = RESULTS / f"{name}.json"
        if path.exists() and (since is None or path.stat().st_mtime >= since):
            found[name] = json.loads(path.read_text())
    return found


class Table:
    """Rows of ``metric | edgetrack | anchors... | ratio | target | result``."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        metric: str,
        values: dict[str, str],
        ratio: str = "",
        target: str = "",
        ok: bool | None = None,
    ) -> None:
        result = "" if ok is None else "PASS" if ok else "FAIL"
        self.rows.append(
            {"metric": metric, "values": values, "ratio": ratio, "target": target, "result": result}
        )

    def missing(self, metric: str, target: str, why: str) -> None:
        self.rows.append({"metric": metric, "values": {}, "ratio": why, "target": target, "result": "n/a"})

    def cells(self) -> list[list[str]]:
        head = ["metric", *COLUMNS, "ratio", "target", "result"]
        body = [
            [r["metric"], *(r["values"].get(c, "") for c in COLUMNS), r["ratio"], r["target"], r["result"]]
            for r in self.rows
        ]
        return [head, *body]

    def text(self) -> str:
        cells = self.cells()
        w = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
        lines = []
        for k, row in enumerate(cells):
            first = f"{row[0]:<{w[0]}}"
            rest = [f"{c:>{w[i + 1]}}" for i, c in enumerate(row[1:-2])] + [f"{row[-2]:<{w[-2]}}", row[-1]]
            lines.append("  ".join([first, *rest]).rstrip())
            if k == 0:
                lines.append("-" * len(lines[0]))
        return "\n".join(lines)

    def markdown(self) -> str:
        cells = self.cells()
        right = [False, *([True] * (len(COLUMNS) + 1)), False, False]
        lines = [
            "| " + " | ".join(cells[0]) + " |",
            "|" + "|".join("---:" if r else "---" for r in right) + "|",
        ]
        for row in cells[1:]:
            result = f"**{row[-1]}**" if row[-1] == "FAIL" else row[-1]
            indent = len(row[0]) - len(row[0].lstrip())
            row = ["&nbsp;" * 2 * indent + row[0].lstrip(), *row[1:]]
            lines.append("| " + " | ".join([*(c.replace("|", "\\|") for c in row[:-1]), result]) + " |")
        return "\n".join(lines)


def fmt(value: float, spec: str = ",.0f") -> str:
    return format(value, spec)


def x(a: float, b: float) -> str:
    if not b:
        return "-"
    return f"{a / b:.3f}x" if a / b < 1 else f"{a / b:.2f}x"


def build(res: dict[str, Any], quick: bool) -> Table:
    t = Table()
    guard(t, res, "enqueue", ["track() calls/s"], lambda: enqueue_rows(t, res["enqueue"]))
    guard(t, res, "e2e", ["events delivered/s"], lambda: e2e_rows(t, res["e2e"]))
    guard(t, res, "backlog", ["peak RSS draining the backlog"], lambda: backlog_rows(t, res["backlog"]))
    guard(t, res, "enqueue", ["start-up"], lambda: startup_rows(t, res["enqueue"]))
    guard(t, res, "faults", ["faults: good events lost"], lambda: faults_rows(t, res["faults"]))
    guard(t, res, "energy", ["energy targets"], lambda: energy_rows(t, res["energy"]))
    guard(t, res, "plugins", ["track() with plugins"], lambda: plugin_rows(t, res["plugins"]))
    guard(t, res, "outage", ["uploads resume after an outage"], lambda: outage_rows(t, res["outage"]))
    guard(t, res, "wear", ["bytes written per event"], lambda: wear_rows(t, res["wear"]))
    return t


def guard(t: Table, res: dict[str, Any], name: str, metrics: list[str], rows: Callable[[], None]) -> None:
    if name not in res:
        for metric in metrics:
            t.missing(metric, "", f"{name}.json missing (run failed?)")
        return
    rows()


def enqueue_rows(t: Table, r: dict[str, Any]) -> None:
    med, lat = r["median"], r["latency_ms"]
    e, s, p, q = (med[k]["rate"] for k in ("edgetrack", "segment", "posthog", "persistqueue"))
    sq = r["sqlite_limit"]
    values = dict(zip(COLUMNS, (fmt(v) for v in (e, s, p, q, sq)), strict=True))
    t.add("track() calls/s", values, f"{x(e, s)} segment", ">= 3x segment", e >= 3 * s)
    t.add(
        "  track() calls/s, vs persist-queue",
        {},
        f"{x(e, q)} persist-queue",
        ">= 10x persist-queue",
        e >= 10 * q,
    )
    t.add(
        "  track() calls/s, vs SQLite limit",
        {},
        f"{x(e, sq)} SQLite limit",
        ">= 0.5x SQLite limit",
        e >= 0.5 * sq,
    )
    if "edgetrack_offline" in med:
        off = med["edgetrack_offline"]["rate"]
        t.add(
            "  edgetrack send=False (no uploads), calls/s",
            {"edgetrack": fmt(off)},
            f"{x(off, sq)} SQLite limit",
        )
    t.add(
        "  edgetrack: all committed to disk, /s",
        {"edgetrack": fmt(med["edgetrack"]["committed"])},
        f"{x(med['edgetrack']['committed'], sq)} SQLite limit",
    )
    systems = ("edgetrack", "segment", "posthog", "persistqueue")
    for mode in ("burst", "paced"):
        for pct in ("p50", "p99"):
            vals = [lat[f"{k}_{mode}"][pct] for k in systems]
            t.add(
                f"track() {pct} ms, flush running, {mode}",
                dict(zip(COLUMNS[:4], (fmt(v, ".3f") for v in vals), strict=True)),
                f"{x(vals[0], vals[1])} segment",
            )


def e2e_rows(t: Table, r: dict[str, Any]) -> None:
    med = r["median"]
    e, s, g, p = (med[k] for k in ("edgetrack", "segment", "segment_like", "posthog"))
    like = (
        f"  segment, gzip + {r.get('config', {}).get('segment_like', {}).get('upload_size', '?')} a request"
    )

    def vals(key: str, spec: str) -> dict[str, str]:
        return {"edgetrack": fmt(e[key], spec), "segment": fmt(s[key], spec), "posthog": fmt(p[key], spec)}

    rate = "delivered_per_s"
    t.add(
        f"events delivered/s (N={r['n']:,}, track then flush)",
        vals(rate, ",.0f"),
        f"{x(e[rate], s[rate])} segment",
        ">= 5x segment",
        e[rate] >= 5 * s[rate],
    )
    t.add(like, {"segment": fmt(g[rate])}, f"{x(e[rate], g[rate])} segment")
    cpu = "cpu_s_per_10k"
    t.add(
        "CPU s per 10,000 delivered (SDK process)",
        vals(cpu, ".3f"),
        f"{x(e[cpu], s[cpu])} segment",
        "<= 1/3 of segment",
        e[cpu] <= s[cpu] / 3,
    )
    t.add(
        "  of which during the track() calls",
        vals("cpu_s_per_10k_while_tracking", ".3f"),
        f"{x(e['cpu_s_per_10k_while_tracking'], s['cpu_s_per_10k_while_tracking'])} segment",
    )
    t.add(like, {"segment": fmt(g[cpu], ".3f")}, f"{x(e[cpu], g[cpu])} segment")
    size = "bytes_per_event"
    t.add("bytes on the wire per event", vals(size, ".1f"), f"{x(e[size], s[size])} segment")
    t.add(like, {"segment": fmt(g[size], ".1f")}, f"{x(e[size], g[size])} segment")
    t.add(
        "requests per 10,000 events",
        vals("requests_per_10k", ".1f"),
        f"{x(e['requests_per_10k'], s['requests_per_10k'])} segment",
    )
    t.add(
        like,
        {"segment": fmt(g["requests_per_10k"], ".1f")},
        f"{x(e['requests_per_10k'], g['requests_per_10k'])} segment",
    )


def backlog_rows(t: Table, r: dict[str, Any]) -> None:
    et, seg, sizes = r["edgetrack"], r["segment"], r["sizes"]
    n, mb = sizes[-1], 1 / 1024
    peak = max(et["peak_kb"]["drain"], et["ru_maxrss_kb"]) * mb
    t.add(
        f"backlog of {n:,}: drain to the sink, s",
        {"edgetrack": fmt(et["drain_seconds"], ".1f")},
        f"{et['delivered'] / et['drain_seconds']:,.0f} events/s",
    )
    target = "< 60 MB" + (" (quick: 100k, not 1M)" if r["quick"] else "")
    t.add(
        f"peak RSS draining the backlog of {n:,}, MB",
        {"edgetrack": fmt(peak, ".1f")},
        "ru_maxrss, whole run",
        target,
        peak < 60,
    )
    if "disk_drained_bytes" in et:
        t.add(
            f"queue on disk (file + WAL + index), {n:,} queued -> drained, MB",
            {"edgetrack": f"{et['disk_full_bytes'] / 1e6:.1f} -> {et['disk_drained_bytes'] / 1e6:.2f}"},
            "incremental vacuum gives the drained pages back",
            "< 1 MB drained",
            et["disk_drained_bytes"] < 1e6,
        )
    for size in sizes:
        a, b = et["rss_at_backlog_kb"][str(size)] * mb, seg["rss_at_backlog_kb"][str(size)] * mb
        t.add(
            f"RSS holding {size:,} events queued, MB",
            {"edgetrack": fmt(a, ".1f"), "segment": fmt(b, ".1f")},
            f"{x(a, b)} segment",
        )
    grow = {
        k: (v["rss_at_backlog_kb"][str(sizes[-1])] - v["rss_at_backlog_kb"][str(sizes[0])]) * mb
        for k, v in (("edgetrack", et), ("segment", seg))
    }
    t.add(
        f"RSS growth, backlog {sizes[0]:,} -> {n:,}, MB",
        {k: fmt(v, ".1f") for k, v in grow.items()},
        "",
        "< 10 MB (flat)",
        grow["edgetrack"] < 10,
    )


def startup_rows(t: Table, r: dict[str, Any]) -> None:
    s = r["startup_ms"]
    e = s["edgetrack"]
    values = {
        "edgetrack": fmt(e),
        "segment": fmt(s["segment_import"]),
        "posthog": fmt(s["posthog_import"]),
        "persist-queue": fmt(s["persistqueue_import"]),
    }
    t.add(
        "start-up ms: edgetrack to first track(); anchors: import",
        values,
        f"{x(e, s['segment_import'])} import segment",
        "<= 0.5x import segment.analytics",
        e <= 0.5 * s["segment_import"],
    )
    t.add(
        "  segment: import + Client + first track()",
        {"segment": fmt(s["segment_first_track"])},
        f"{x(e, s['segment_first_track'])} segment",
    )


def faults_rows(t: Table, r: dict[str, Any]) -> None:
    e, s = r["edgetrack"], r["segment"]
    n = r["config"]["n"]
    t.add(
        f"faults: good events lost of {n:,} (429s, 413, poison, outage)",
        {"edgetrack": str(e["lost"]), "segment": str(s["lost"])},
        "",
        "0 lost",
        e["lost"] == 0,
    )
    t.add(
        "  faults: duplicated deliveries",
        {"edgetrack": str(e["duplicates"]), "segment": str(s["duplicates"])},
    )


def outage_rows(t: Table, r: dict[str, Any]) -> None:
    """Network back -> queued events delivered, with the netlink push and by looking (Linux, in a
    network namespace of the benchmark's own)."""
    push, polling = r["push"], r["polling"]
    t.add(
        "uploads resume after an outage: network back -> delivered, s (worst of "
        f"{push['outages']}; netlink push vs looking)",
        {"edgetrack": fmt(push["max_s"], ".2f")},
        f"by looking: {polling['max_s']:.1f} s",
        "<= 2 s",
        push["never"] == 0 and push["max_s"] is not None and push["max_s"] <= 2.0,
    )


WEAR_OTHERS = [
    "edgetrack offline",
    "edgetrack durable",
    "edgetrack commit_window=1s",
    "append-only JSON lines",
]


def wear_rows(t: Table, r: dict[str, Any]) -> None:
    """Bytes written to storage per event (``/proc/self/io``): edgetrack default, durable, with a
    1 s commit window, an append-only JSON-lines file, and the one-page-a-commit floor."""
    floor = r["floor_bytes_per_commit"]
    for cadence, row in r["cadences"].items():
        systems = row["systems"]
        e = systems["edgetrack"]["bytes_per_event"]
        if row["floor"]:
            ratio, target = f"{e / floor:.2f}x one page a commit ({floor:,})", "<= 1.25x the floor"
            ok = e <= 1.25 * floor
        else:
            ratio, target, ok = "", "<= 1 KB", e <= 1024
        others = ", ".join(
            f"{name.replace('edgetrack ', '')} {systems[name]['bytes_per_event']:,.0f}"
            for name in WEAR_OTHERS
        )
        metric = f"bytes written per event, {cadence} (default; {others})"
        t.add(metric, {"edgetrack": fmt(e)}, ratio, target, ok)
    d = r["drain"]
    t.add(
        f"bytes written per delivered event, track + deliver + delete ({d['n']:,} events)",
        {"edgetrack": fmt(d["cycle_bytes_per_event"])},
        f"delivering adds {d['deliver_bytes_per_event']:,.0f} to tracking's "
        f"{d['track_bytes_per_event']:,.0f}",
        "the drain <= tracking",
        d["deliver_bytes_per_event"] <= d["track_bytes_per_event"],
    )


def plugin_rows(t: Table, r: dict[str, Any]) -> None:
    """track() with 0, 1 and 3 plugins (send=False): the rate against segment's, and what the
    timeline adds per plugin beyond the plugins' own code."""
    segment = r["segment"]["calls_per_s"]
    for count in ("0", "1", "3"):
        row = r[count]
        extra = (
            f", +{row['overhead_us_per_plugin']:.2f} us a plugin over its own code" if count != "0" else ""
        )
        t.add(
            f"track() calls/s with {count} plugin{'s' * (count != '1')} (send=False){extra}",
            {"edgetrack": fmt(row["calls_per_s"]), "segment": fmt(segment)},
            x(row["calls_per_s"], segment) + " segment (send=False)",
        )


def energy_rows(t: Table, r: dict[str, Any]) -> None:
    checks = {(c["trace"], c["target"]): c for c in r["targets"]}
    for trace in ("phone", "steady"):
        pol = r["traces"][trace]["policies"]
        mobile = min(pol["segment-mobile"]["lte_j_per_h"], pol["amplitude-mobile"]["lte_j_per_h"])
        e = pol["edgetrack"]["lte_j_per_h"]
        check = checks.get((trace, ">= 10x fewer LTE J/h than Segment/Amplitude mobile"))
        delay = delay_label(pol["edgetrack"].get("max_delay_s") or 0.0)
        t.add(
            f"energy, {trace} trace on battery: LTE J/h (simulated; edgetrack's {delay} delay, SDKs' 30 s)",
            {
                "edgetrack": fmt(e, ".1f"),
                "segment": fmt(pol["segment-python"]["lte_j_per_h"], ".1f"),
                "posthog": fmt(pol["posthog-python"]["lte_j_per_h"], ".1f"),
            },
            f"{mobile / e:.1f}x fewer than mobile SDKs",
            ">= 10x fewer than mobile SDKs",
            None if check is None else bool(check["pass"]),
        )
    kiosk = r["traces"]["kiosk"]["policies"]
    start, end = r["traces"]["kiosk"].get("outage_s") or (0.0, 0.0)
    outage = round((end - start) / 3600, 1)
    t.add(
        f"energy, kiosk trace with a {outage:g} h outage: events lost (simulated)",
        {
            "edgetrack": str(kiosk["edgetrack"]["lost"]),
            "segment": str(kiosk["segment-python"]["lost"]),
            "posthog": str(kiosk["posthog-python"]["lost"]),
        },
    )
    others = [c for c in r["targets"] if "LTE J/h" not in c["target"]]
    passed = sum(bool(c["pass"]) for c in others)
    t.add(
        "energy: latency within max delay, wake-ups vs optimum",
        {"edgetrack": f"{passed}/{len(others)}"},
        "",
        "all pass",
        passed == len(others),
    )
    equal_delay_rows(t, r)


def delay_label(seconds: float) -> str:
    return f"{seconds:g} s" if seconds < 120 else f"{seconds / 60:g} min"


def equal_delay_rows(t: Table, r: dict[str, Any]) -> None:
    """The rows above compare edgetrack's 15-minute battery delay with the mobile SDKs' 30 s timers;
    these compare each policy at the same maximum delay D (energy.py's equal-delay sweep)."""
    eq = r.get("equal_delay")
    if not eq:
        t.missing("energy at equal delay", "", "energy.json has no equal_delay (older run?)")
        return
    rows = eq["traces"].get("app-traffic", {}).get("delays", {})
    for key in ("30", "120"):
        if key not in rows:
            continue
        label = delay_label(float(key))
        e, f = rows[key]["edgetrack"], rows[key]["fixed-timer"]["lte_j_per_h"]
        p95 = e["p95_latency_online_s"] or 0.0
        found = [
            c for c in eq["targets"] if c["trace"] == "app-traffic" and c["target"].endswith(f" at D={label}")
        ]
        t.add(
            f"energy at equal delay, app-traffic trace: LTE J/h vs a fixed {label} timer (simulated)",
            {"edgetrack": fmt(e["lte_j_per_h"], ".1f")},
            f"{1 - e['lte_j_per_h'] / f:.0%} below fixed timer ({f:.1f}); p95 {p95:.0f} s" if f else "-",
            f">= 30 % below, p95 <= {label}",
            all(bool(c["pass"]) for c in found) if found else None,
        )
    every = [c for c in eq["targets"] if c["target"].startswith("edgetrack <= fixed timer")]
    passed = [c["trace"] for c in every if c["pass"]]
    failed = [c["trace"] for c in every if not c["pass"]]
    t.add(
        "energy at equal delay: edgetrack <= fixed timer LTE J/h at every delay, per trace",
        {"edgetrack": f"{len(passed)}/{len(every)}"},
        f"over on {', '.join(failed)}" if failed else "",
        "all pass",
        not failed,
    )


def chart(res: dict[str, Any], path: Path) -> str | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    colors = {
        "edgetrack": "#1b7837",
        "edgetrack\nsend=False": "#7fbf7b",
        "segment": "#2166ac",
        "segment, batched\nlike edgetrack": "#67a9cf",
        "posthog": "#b2182b",
        "persist-queue": "#8c510a",
        "SQLite limit": "#999999",
    }

    def bars(ax: Any, data: dict[str, float], title: str, unit: str, spec: str = ",.0f") -> None:
        names = list(data)
        ax.bar(names, [data[k] for k in names], color=[colors[k] for k in names])
        for i, k in enumerate(names):
            ax.annotate(format(data[k], spec), (i, data[k]), ha="center", va="bottom", fontsize=9)
        ax.set_title(title)
        ax.set_ylabel(unit)
        ax.tick_params(axis="x", labelsize=9)

    if "enqueue" in res:
        r = res["enqueue"]
        med = r["median"]
        rates = {
            "edgetrack": med["edgetrack"]["rate"],
            **(
                {"edgetrack\nsend=False": med["edgetrack_offline"]["rate"]}
                if "edgetrack_offline" in med
                else {}
            ),
            "segment": med["segment"]["rate"],
            "posthog": med["posthog"]["rate"],
            "persist-queue": med["persistqueue"]["rate"],
            "SQLite limit": r["sqlite_limit"],
        }
        bars(axes[0][0], rates, f"track() calls/s (N={r['n']:,}, median of {r['rounds']})", "calls/s")
        for ax, mode in ((axes[1][0], "burst"), (axes[1][1], "paced")):
            systems = [
                ("edgetrack", "edgetrack"),
                ("segment", "segment"),
                ("posthog", "posthog"),
                ("persistqueue", "persist-queue"),
            ]
            for j, pct in enumerate(("p50", "p99")):
                vals = [r["latency_ms"][f"{k}_{mode}"][pct] * 1e3 for k, _ in systems]
                pos = [i + (j - 0.5) * 0.38 for i in range(len(systems))]
                ax.bar(
                    pos,
                    vals,
                    width=0.36,
                    color=[colors[label] for _, label in systems],
                    alpha=0.55 if pct == "p50" else 1.0,
                    label=pct,
                )
                for p_, v in zip(pos, vals, strict=True):
                    ax.annotate(f"{pct}\n{v:,.0f}", (p_, v), ha="center", va="bottom", fontsize=7)
            ax.set_xticks(range(len(systems)), [label for _, label in systems])
            ax.set_yscale("log")
            low, high = ax.get_ylim()
            ax.set_ylim(low, high * 2.5)
            ax.set_ylabel("µs per track() call (log)")
            pace = "calls back to back" if mode == "burst" else "calls ~1 ms apart"
            ax.set_title(f"track() latency, p50 (light) and p99 (dark), {pace}")
    if "e2e" in res:
        r = res["e2e"]
        med = r["median"]
        e2e = {
            "edgetrack": med["edgetrack"]["delivered_per_s"],
            "segment": med["segment"]["delivered_per_s"],
            "segment, batched\nlike edgetrack": med["segment_like"]["delivered_per_s"],
            "posthog": med["posthog"]["delivered_per_s"],
        }
        bars(
            axes[0][1],
            e2e,
            f"delivered/s to a loopback sink (N={r['n']:,}, track then flush)",
            "events/s",
        )
    fig.suptitle("edgetrack vs the anchors, one run on one machine (top: higher is better; bottom: lower)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path.relative_to(HERE.parent))


def versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run of every benchmark")
    parser.add_argument("--report-only", action="store_true", help="only rebuild the summary from results/")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these benchmarks")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args(argv)
    started = time.time()
    names = args.only or list(BENCHMARKS)
    codes = {} if args.report_only else run(names, args.quick)
    fresh = load(names, None if args.report_only else started - 1)
    if args.only:  # a partial run reports the others from their last results
        fresh.update(load([n for n in BENCHMARKS if n not in fresh], None))
    res = fresh
    quick = args.quick if not args.report_only else bool(res.get("enqueue", {}).get("quick"))
    table = build(res, quick)
    RESULTS.mkdir(exist_ok=True)
    png = chart(res, RESULTS / "performance.png")
    targets = {f"{r['metric'].strip()} {r['target']}": r["result"] for r in table.rows if r["target"]}
    failed = [k for k, v in targets.items() if v != "PASS"]
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    machine = f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores"
    machine += f", Python {platform.python_version()}"
    vers = versions()
    stamp = (
        f"{when}; {machine}; "
        + ", ".join(f"{k} {v}" for k, v in vers.items())
        + ("; --quick (smoke run: smaller N)" if quick else "")
    )
    scope = (
        "each benchmark's figures from its own last run (the table rebuilt then)"
        if args.report_only or args.only
        else "every figure from one run"
    )
    summary = {
        "generated": when,
        "quick": quick,
        "machine": machine,
        "versions": vers,
        "columns": COLUMNS,
        "rows": table.rows,
        "targets": targets,
        "passed": len(targets) - len(failed),
        "failed": failed,
        "benchmarks_exit": codes,
        "chart": png,
    }
    (RESULTS / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    md = [
        "<!-- written by benchmarks/run_all.py (python3 dev.py bench) -->",
        f"edgetrack against the anchors, {scope}: {stamp}. Ratio = edgetrack / anchor.",
        "",
        table.markdown(),
        "",
        f"Targets: {len(targets) - len(failed)} of {len(targets)} pass.",
    ]
    (RESULTS / "summary.md").write_text("\n".join(md) + "\n")
    print("\n== combined (ratio = edgetrack / anchor; every figure from this run)")
    print(stamp)
    print(table.text())
    print(
        f"\ntargets: {len(targets) - len(failed)} of {len(targets)} pass"
        + (f"; FAIL: {failed}" if failed else "")
    )
    broken = {k: v for k, v in codes.items() if v}
    if broken:
        print(f"benchmarks that failed to run: {broken}")
    print(
        "wrote benchmarks/results/summary.json, summary.md"
        + (f", {png}" if png else " (no chart: no matplotlib)")
    )
    return 1 if broken or (args.strict and failed) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
