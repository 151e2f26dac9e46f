"""Vendor destinations, one module each. Each takes ``endpoint=`` to point at the emulator.

========================  ====================================================================
destination               API
========================  ====================================================================
``IntileryMobile``        Intilery mobile batch endpoint (Segment format, write key)
``IntileryEvents``        Intilery Event API (server-to-server, auth token)
``Parcelvoy``             Parcelvoy client API (Bearer public key)
``Encharge``              Encharge Ingest API (one event a request)
``BatchCom``              Batch.com Trigger Events API (bulk, by custom user id)
``Segment``               any Segment-compatible ``/v1/batch`` (Segment, RudderStack, Jitsu)
========================  ====================================================================
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from edgetrack.destinations.base import BaseDestination
    from edgetrack.destinations.batch_com import BatchCom
    from edgetrack.destinations.encharge import Encharge
    from edgetrack.destinations.intilery_events import IntileryEvents
    from edgetrack.destinations.intilery_mobile import IntileryMobile
    from edgetrack.destinations.parcelvoy import Parcelvoy
    from edgetrack.destinations.segment import Segment

__all__ = [
    "BaseDestination",
    "BatchCom",
    "Encharge",
    "IntileryEvents",
    "IntileryMobile",
    "Parcelvoy",
    "Segment",
]

# Loaded on first use: an app pays only for the vendors it names.
_WHERE = {
    "BaseDestination": "base",
    "BatchCom": "batch_com",
    "Encharge": "encharge",
    "IntileryEvents": "intilery_events",
    "IntileryMobile": "intilery_mobile",
    "Parcelvoy": "parcelvoy",
    "Segment": "segment",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'edgetrack.destinations' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"edgetrack.destinations.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
