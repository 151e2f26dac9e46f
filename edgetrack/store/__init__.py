"""The on-disk queue: the only package that talks SQL.

Names are loaded on first use, so importing ``edgetrack.store.paths`` on the caller's path
does not pull in SQLite code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_WHERE = {
    "Claim": "sqlite",
    "DeadLetter": "sqlite",
    "LaneState": "sqlite",
    "SQLiteStore": "sqlite",
    "default_path": "paths",
    "ensure_private_file": "paths",
    "load_anonymous_id": "paths",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'edgetrack.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"edgetrack.store.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
