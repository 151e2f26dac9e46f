"""The on-disk queue: the only package that talks SQL.

``QueueStore`` (``_protocol``) is what the rest of edgetrack asks of a queue; ``SQLiteStore``
(``_sqlite``) is the one implementation, a connection whose SQL lives in modules by
responsibility, each a set of functions of a connection: ``_appending`` (inserts and trims),
``_delivering`` (claims, completions, failures), ``_lanes``, ``_reading``, ``_dead_letters``,
``_sql`` (what they share). Around them: ``_schema`` (tables and migrations), ``_timeline``
(queue time, which wall-clock jumps do not move), ``_space`` (the file's size), ``_forksafe``
(SQLite across ``fork()``), ``_owners`` (lease owners), ``_writer`` (the group-commit thread),
``_paths`` (where the file lives).

Names are loaded on first use, so the caller's path to its first ``track()`` does not import
SQLite code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edgetrack._lazy import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from edgetrack.store._dead_letters import DeadLetter
    from edgetrack.store._delivering import Claim, Settled
    from edgetrack.store._paths import default_path, ensure_private_file, load_anonymous_id
    from edgetrack.store._protocol import QueueStore
    from edgetrack.store._reading import LaneState
    from edgetrack.store._schema import SCHEMA_VERSION
    from edgetrack.store._sqlite import SQLiteStore, classify
    from edgetrack.store._timeline import RELEASED, STEP_TOLERANCE, Timeline
    from edgetrack.store._writer import LANE_REFRESH, Writer

__all__ = [
    "LANE_REFRESH",
    "RELEASED",
    "SCHEMA_VERSION",
    "STEP_TOLERANCE",
    "Claim",
    "DeadLetter",
    "LaneState",
    "QueueStore",
    "SQLiteStore",
    "Settled",
    "Timeline",
    "Writer",
    "classify",
    "default_path",
    "ensure_private_file",
    "load_anonymous_id",
]

_WHERE = {
    "LANE_REFRESH": "_writer",
    "RELEASED": "_timeline",
    "SCHEMA_VERSION": "_schema",
    "STEP_TOLERANCE": "_timeline",
    "Claim": "_delivering",
    "DeadLetter": "_dead_letters",
    "LaneState": "_reading",
    "QueueStore": "_protocol",
    "SQLiteStore": "_sqlite",
    "Settled": "_delivering",
    "Timeline": "_timeline",
    "Writer": "_writer",
    "classify": "_sqlite",
    "default_path": "_paths",
    "ensure_private_file": "_paths",
    "load_anonymous_id": "_paths",
}


__getattr__, __dir__ = _lazy_exports(
    "edgetrack.store", {name: "edgetrack.store." + module for name, module in _WHERE.items()}, globals()
)
