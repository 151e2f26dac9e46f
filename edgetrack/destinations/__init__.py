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

from typing import TYPE_CHECKING

from edgetrack._lazy import lazy_exports as _lazy_exports

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


__getattr__, __dir__ = _lazy_exports(
    "edgetrack.destinations",
    {name: "edgetrack.destinations." + module for name, module in _WHERE.items()},
    globals(),
)
