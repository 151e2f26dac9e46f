"""Crash harness, long form: SIGKILL at 200+ random points of the pipeline, then drain and check.

    .venv/bin/python benchmarks/crash.py [--kills 200] [--seed N] [--json PATH] [--verbose]

The harness is ``tests/test_crash.py``'s (CI runs 30 kill points; this runs as many as asked,
which is the same as ``EDGETRACK_CRASH_KILLS=200 .venv/bin/python -m pytest tests/test_crash.py
-q -s -k harness``). Child processes (``tests/crash_child.py``) track and flush against the
emulator through bursts, flushes, 413 splits, 429 / 5xx / reset / slow answers and retry
waits; each is killed at a random moment or at a random occurrence of a chosen point (track,
commit, claim, send, split-send, ack, retry-wait); ten kills share a queue file, then a fresh
client drains it. It prints where the kills landed and the counts: events returned, required
(returned more than one 50 ms commit window before the kill, or by a durable=True call), lost
(must be 0), duplicates (must all be the same event under the same messageId), integrity checks.
Exit status 1 if any check fails. About 0.6 s a kill point on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.test_crash import SEED, run_crash_harness


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--kills", type=int, default=200, help="kill points (default 200)")
    parser.add_argument("--seed", type=int, default=SEED, help=f"random seed (default {SEED})")
    parser.add_argument("--json", type=Path, help="also write the summary here")
    parser.add_argument("--verbose", action="store_true", help="a line per kill")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgetrack-crash-") as workdir:
        report = run_crash_harness(
            Path(workdir), kills=args.kills, seed=args.seed, log=print if args.verbose else None
        )
    summary = report.summary()
    print(report.line())
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    failures = {
        "lost": report.lost,
        "duplicates not identical": report.duplicates_differing,
        "one event under two messageIds": report.one_event_two_ids,
        "integrity": [r for r in report.integrity if r != "ok"],
        "totals mismatch": report.totals_mismatch,
        "quarantined": report.quarantined,
    }
    if report.dead_letters or report.pending_after_drain or report.drains_unfinished:
        failures["drain"] = [f"{report.dead_letters} dead letters, {report.pending_after_drain} pending"]
    bad = {name: found for name, found in failures.items() if found}
    for line in report.losses():
        print("LOST", line)
    for name, found in bad.items():
        print(f"FAIL {name}: {found[:10]}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
