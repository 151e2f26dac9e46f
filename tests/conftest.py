"""Shared fixtures: a loopback emulator and a fresh queue file per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from edgetrack.emulator import Emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def queue_path(tmp_path: Path) -> Path:
    return tmp_path / "queue.db"
