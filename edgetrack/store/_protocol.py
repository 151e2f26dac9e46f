"""``QueueStore``: what the scheduler, delivery, ``flush()``, ``stats()`` and the CLI ask of a
queue, as a ``typing.Protocol`` (huey's ``BaseStorage`` in spirit). ``SQLiteStore`` is the
implementation; ``tests/test_store.py`` is the contract suite, run against every implementation.

Times are queue time (``edgetrack.store.Timeline``): monotonic, per file.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol

from edgetrack.config import QueueLimits
from edgetrack.models import QueuedEvent
from edgetrack.store._appending import Rows
from edgetrack.store._dead_letters import DeadLetter
from edgetrack.store._delivering import Claim, Dead, Settled
from edgetrack.store._reading import LaneState
from edgetrack.store._sql import Counts
from edgetrack.store._state import Changes
from edgetrack.store._timeline import Timeline

__all__ = ["QueueStore"]


class QueueStore(Protocol):
    """One connection to a queue: events in, claims out, lanes' state, counters, dead letters."""

    path: Path
    timeline: Timeline

    def now(self) -> float:
        """Queue time now."""
        ...

    def close(self) -> None: ...

    def still_there(self) -> bool:
        """False once the file (or its WAL) was replaced under this connection."""
        ...

    # lanes
    def ensure_lanes(self, names: Iterable[str], now: float) -> None: ...

    def drop_lane(self, name: str) -> int: ...

    def drop_orphans(self, keep: Iterable[str], now: float, max_age: float) -> dict[str, int]: ...

    def cap_waits(self, now: float, *, pauses: Mapping[str, float], backoff: float, lease: float) -> None: ...

    def clear_pause(self, lane: str, reason: str) -> None: ...

    # events in
    def append(
        self,
        rows: Rows,
        limits: QueueLimits,
        *,
        shift: float = 0.0,
        lanes: Iterable[str] = (),
        now: float = 0.0,
        state: Changes | None = None,
    ) -> dict[str, int]: ...

    # erasing
    def purge_pending(self, lane: str | None = None) -> int: ...

    def erase_all(self, state: Changes | None = None) -> int: ...

    # the app's state
    def state(self) -> dict[str, str]: ...

    def save_state(self, changes: Changes) -> None: ...

    # delivery
    def claim(
        self,
        lane: str,
        owner: str,
        now: float,
        *,
        lease: float,
        max_events: int,
        max_bytes: int,
        overhead: int = 1,
    ) -> Claim | None: ...

    def complete(
        self,
        claim: Claim,
        owner: str,
        now: float,
        *,
        settled: Sequence[Settled] = (),
        counts: Counts | None = None,
        dead: Sequence[Dead] = (),
        max_dead_letters: int = 1000,
    ) -> None: ...

    def fail(
        self,
        lane: str,
        owner: str,
        now: float,
        *,
        error: str,
        next_attempt: float | None = None,
        paused_until: float | None = None,
        pause_reason: str | None = None,
        count_failure: bool = True,
        server_failure: bool = False,
        counts: Counts | None = None,
    ) -> None: ...

    # reading
    def lane_states(self, now: float, names: Sequence[str] | None = None) -> list[LaneState]: ...

    def pending_union(self, names: Sequence[str]) -> int: ...

    def lane_names(self) -> list[str]: ...

    def newest_id(self) -> int: ...

    def counters(self) -> dict[str, dict[tuple[str, str], int]]: ...

    def totals(self) -> tuple[int, int]: ...

    def peek(
        self, lane: str | None = None, limit: int = 20, *, after: int = 0, newest: bool = False
    ) -> list[QueuedEvent]: ...

    # dead letters
    def dead_letters(
        self, lane: str | None = None, limit: int = 100, *, after: int = 0
    ) -> list[DeadLetter]: ...

    def dead_letter_mark(self) -> int: ...

    def dead_letters_since(self, mark: int, *, upto: int) -> int: ...

    def count_dead(self, ids: Sequence[int] | None = None, *, lane: str | None = None) -> int: ...

    def unknown_dead(self, ids: Sequence[int]) -> list[int]: ...

    def dead_letter_ids(self, limit: int = 20) -> list[int]: ...

    def dead_letter_count(self) -> int: ...

    def requeue_dead(
        self, ids: Sequence[int] | None = None, *, lane: str | None = None, now: float | None = None
    ) -> int: ...

    def purge_dead(self, ids: Sequence[int] | None = None, *, lane: str | None = None) -> int: ...
