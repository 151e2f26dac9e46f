"""The on-disk queue: the only package that talks SQL."""

from __future__ import annotations

from edgetrack.store.paths import default_path, ensure_private_file, load_anonymous_id
from edgetrack.store.sqlite import Claim, DeadLetter, LaneState, SQLiteStore

__all__ = [
    "Claim",
    "DeadLetter",
    "LaneState",
    "SQLiteStore",
    "default_path",
    "ensure_private_file",
    "load_anonymous_id",
]
