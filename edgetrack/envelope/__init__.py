"""The event's way in: a call's arguments checked and carried as one ``Call``, the Segment-spec
envelope built and serialised once, in the caller's thread (microseconds), with the default
context spliced in.

``_call`` has the ``Call`` value and each call's own fields and checks, ``_builder`` the
envelope and its JSON, ``_context`` what every event says about the device.
"""

from __future__ import annotations

from edgetrack.envelope._builder import (
    MAX_DEPTH,
    Ambient,
    MessageBuilder,
    iso_utc,
    iso_utc_from_epoch,
    queued_form,
)
from edgetrack.envelope._call import (
    Call,
    Result,
    alias_fields,
    device_fields,
    group_fields,
    identify_fields,
    track_fields,
    view_fields,
)
from edgetrack.envelope._context import PARTS, default_context, iana_zone

__all__ = [
    "MAX_DEPTH",
    "PARTS",
    "Ambient",
    "Call",
    "MessageBuilder",
    "Result",
    "alias_fields",
    "default_context",
    "device_fields",
    "group_fields",
    "iana_zone",
    "identify_fields",
    "iso_utc",
    "iso_utc_from_epoch",
    "queued_form",
    "track_fields",
    "view_fields",
]
