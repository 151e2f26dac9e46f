#!/usr/bin/env python3
"""Developer entry point; needs only Python >= 3.10 and git.

    python3 dev.py demo                   # the demo against the built-in emulator (runtime deps only)
    python3 dev.py test                   # ruff, mypy --strict, and the whole test suite
    python3 dev.py test --python 3.10     # the test suite on another Python (pyenv's, or a path)
    python3 dev.py test -- -m "not slow"  # arguments after -- go to pytest
    python3 dev.py bench                  # the benchmarks, side by side with the anchors

Each command creates (or reuses) a virtual environment and installs what it needs: ``.venv``
for this Python, ``.venv-3.10`` and so on for another one.
"""

from __future__ import annotations

import glob
import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent


class Env:
    """A virtual environment in the work tree, made with one Python interpreter."""

    def __init__(self, folder: Path, base: str) -> None:
        self.folder = folder
        self.base = base
        bin_dir = folder / ("Scripts" if os.name == "nt" else "bin")
        self.python = bin_dir / ("python.exe" if os.name == "nt" else "python")

    def ensure(self, extra: str) -> None:
        """Create the environment and install the project (with ``extra``) unless nothing changed."""
        if not self.python.exists():
            if self.base == sys.executable:
                venv.EnvBuilder(with_pip=True, clear=True).create(self.folder)
            else:
                run(self.base, "-m", "venv", "--clear", self.folder)
            run(self.python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
        stamp = self.folder / f".installed-{extra or 'runtime'}"
        digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
        if stamp.exists() and stamp.read_text() == digest:
            return
        run(self.python, "-m", "pip", "install", "--quiet", "-e", f".[{extra}]" if extra else ".")
        stamp.write_text(digest)


def run(*args: str | Path) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    result = subprocess.run([str(a) for a in args], cwd=ROOT)
    if result.returncode:
        sys.exit(result.returncode)


def interpreter(wanted: str) -> str | None:
    """A path, or a version such as 3.10: pyenv's interpreter of that version, else pythonX.Y."""
    if os.sep in wanted:
        return wanted if Path(wanted).exists() else None
    root = os.environ.get("PYENV_ROOT", str(Path.home() / ".pyenv"))
    found = sorted(glob.glob(os.path.join(root, "versions", f"{wanted}*", "bin", "python3")))
    if found:
        return found[-1]
    from shutil import which

    return which(f"python{wanted}")


def main(argv: list[str]) -> None:
    command = argv[0] if argv else "help"
    rest = argv[1:]
    pytest_args = rest[rest.index("--") + 1 :] if "--" in rest else []
    options = rest[: rest.index("--")] if "--" in rest else rest
    if command == "demo":
        env = Env(ROOT / ".venv", sys.executable)
        env.ensure("")  # the runtime dependencies only: a fresh machine runs it in seconds
        run(env.python, "-m", "edgetrack", "demo", *options)
    elif command == "test" and options[:1] == ["--python"] and len(options) == 2:
        base = interpreter(options[1])
        if base is None:
            print(f"Python {options[1]} not found (looked in pyenv's versions and on PATH)", flush=True)
            sys.exit(3)
        version = subprocess.run(
            [base, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True, text=True
        ).stdout.strip()
        env = Env(ROOT / f".venv-{version}", base)
        env.ensure("dev")
        run(env.python, "-m", "pytest", *(pytest_args or ["-q"]))
    elif command == "test":
        pytest_args = options + pytest_args  # anything else is for pytest, as before
        env = Env(ROOT / ".venv", sys.executable)
        env.ensure("dev")
        run(env.python, "-m", "ruff", "check", "edgetrack", "tests", "benchmarks", "examples", "dev.py")
        run(env.python, "-m", "mypy", "--strict", "edgetrack", "tests")
        run(env.python, "-m", "pytest", *(pytest_args or ["-q"]))
    elif command == "bench":
        env = Env(ROOT / ".venv", sys.executable)
        env.ensure("dev,bench")
        run(env.python, "benchmarks/run_all.py", *rest)
    else:
        print(__doc__)
        sys.exit(0 if command in ("help", "-h", "--help") else 2)


if __name__ == "__main__":
    main(sys.argv[1:])
