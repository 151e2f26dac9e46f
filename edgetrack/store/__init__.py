"""The on-disk queue: the only package that talks SQL.

Names are loaded on first use, so importing ``edgetrack.store.paths`` on the caller's path
does not pull in SQLite code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgetrack._lazy import lazy_exports as _lazy_exports

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


__getattr__, __dir__ = _lazy_exports(
    "edgetrack.store", {name: "edgetrack.store." + module for name, module in _WHERE.items()}, globals()
)
