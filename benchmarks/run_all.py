"""Run every benchmark in one go (``python3 dev.py bench``); pass ``--quick`` for a short run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["enqueue.py", "faults.py", "energy.py"]


def main(argv: list[str]) -> int:
    failed = 0
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        failed |= subprocess.run([sys.executable, str(HERE / name), *argv]).returncode
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
