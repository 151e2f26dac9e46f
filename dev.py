#!/usr/bin/env python3
"""Developer entry point; needs only Python >= 3.10 and git.

    python3 dev.py demo     # run the demo against the built-in emulator
    python3 dev.py test     # ruff, mypy --strict, and the test suite
    python3 dev.py bench    # the benchmarks, side by side with the anchors

Each command creates (or reuses) a virtual environment in .venv and installs what it needs.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def run(*args: str | Path) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    result = subprocess.run([str(a) for a in args], cwd=ROOT)
    if result.returncode:
        sys.exit(result.returncode)


def ensure(extra: str) -> None:
    """Create .venv and install the project with ``extra``; skip when nothing changed."""
    if not PY.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    stamp = VENV / f".installed-{extra}"
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest:
        return
    run(PY, "-m", "pip", "install", "--quiet", "-e", f".[{extra}]")
    stamp.write_text(digest)


def main(argv: list[str]) -> None:
    command = argv[0] if argv else "help"
    rest = argv[1:]
    if command == "demo":
        ensure("dev")
        run(PY, "-m", "edgetrack", "demo", *rest)
    elif command == "test":
        ensure("dev")
        run(PY, "-m", "ruff", "check", "edgetrack", "tests", "benchmarks", "examples", "dev.py")
        run(PY, "-m", "mypy", "--strict", "edgetrack")
        run(PY, "-m", "pytest", *(rest or ["-q"]))
    elif command == "bench":
        ensure("dev,bench")
        run(PY, "benchmarks/run_all.py", *rest)
    else:
        print(__doc__)
        sys.exit(0 if command in ("help", "-h", "--help") else 2)


if __name__ == "__main__":
    main(sys.argv[1:])
