"""A loopback emulator of the vendor ingestion APIs, for tests, the demo and ``edgetrack serve``.

    with Emulator() as emu:
        client = Client([IntileryMobile(emu.write_key, endpoint=emu.url)], path=...)
        ...
        emu.fail_next(Fault(429, headers={"Retry-After": "7"}))
        emu.events("intilery_mobile")

Vendors (the ``vendor`` names for ``events()`` and ``fail_next(vendor=...)``): ``intilery_mobile``,
``intilery_events``, ``parcelvoy``, ``encharge``, ``batch_com``, ``segment``. Each checks its own
credentials (attributes of the same name as the constructor arguments). Every byte and rate limit is
a constructor argument; ``max_body`` is the cap for routes without their own (Intilery mobile).

Library code never imports this package.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from edgetrack.emulator.batch_com import ATTRIBUTE_PATTERN, NAME_PATTERN, batch_com_routes
from edgetrack.emulator.core import Fault, Received, Reply, Server
from edgetrack.emulator.encharge import encharge_routes
from edgetrack.emulator.intilery import intilery_mobile_routes
from edgetrack.emulator.intilery_events import intilery_events_routes
from edgetrack.emulator.parcelvoy import Profiles, parcelvoy_routes
from edgetrack.emulator.segment import segment_routes

__all__ = ["Emulator", "Fault", "Received", "Reply"]

DEFAULT_WRITE_KEY = "emulator-write-key"
MIB = 1024 * 1024


class Emulator(Server):
    """Every emulated vendor on one loopback port; each vendor checks its own keys."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        write_key: str = DEFAULT_WRITE_KEY,
        max_body: int = 500 * 1024,
        on_request: Callable[[str, int, int], None] | None = None,
        intilery_client_id: str = "acme",
        intilery_account_id: str = "acme",
        intilery_brand_id: str = "ACME",
        intilery_token: str = "emulator-intilery-token",
        intilery_rate: tuple[float, int] | None = (100.0, 500),
        intilery_max_body: int = 1_000_000,
        intilery_max_item: int | None = 32 * 1024,
        parcelvoy_key: str = "pk_emulator-parcelvoy-key",
        parcelvoy_max_body: int = MIB,
        encharge_key: str = "emulator-encharge-write-key",
        encharge_max_body: int = MIB,
        batch_api_key: str = "EMULATOR_BATCH_API_KEY",
        batch_rest_key: str = "emulator-batch-rest-key",
        batch_rate: tuple[float, int] | None = None,
        batch_max_events: int = 1000,
        batch_max_body: int = 5 * MIB,
        batch_name_pattern: str = NAME_PATTERN,
        batch_attribute_pattern: str = ATTRIBUTE_PATTERN,
        batch_now: Callable[[], float] = time.time,
        segment_write_key: str = "emulator-segment-write-key",
        segment_max_body: int = 500 * 1024,
        segment_max_message: int = 32 * 1024,
        segment_strict: bool = False,
    ) -> None:
        self.write_key = write_key
        self.intilery_client_id = intilery_client_id
        self.intilery_account_id = intilery_account_id
        self.intilery_brand_id = intilery_brand_id
        self.intilery_token = intilery_token
        self.parcelvoy_key = parcelvoy_key
        self.parcelvoy_profiles = Profiles()  # the project's users, as the server's jobs leave them
        self.encharge_key = encharge_key
        self.batch_api_key = batch_api_key
        self.batch_rest_key = batch_rest_key
        self.segment_write_key = segment_write_key
        routes = [
            *intilery_mobile_routes([write_key]),
            *intilery_events_routes(
                intilery_client_id,
                intilery_account_id,
                intilery_brand_id,
                [intilery_token],
                max_body=intilery_max_body,
                max_item=intilery_max_item,
                rate=intilery_rate,
            ),
            *parcelvoy_routes([parcelvoy_key], max_body=parcelvoy_max_body, profiles=self.parcelvoy_profiles),
            *batch_com_routes(
                [batch_api_key],
                [batch_rest_key],
                max_events=batch_max_events,
                name_pattern=batch_name_pattern,
                attribute_pattern=batch_attribute_pattern,
                rate=batch_rate,
                max_body=batch_max_body,
                now=batch_now,
            ),
            # Segment's /v1/batch, /v1/track, ... before Encharge's catch-all /v1/{writeKey}.
            *segment_routes(
                [segment_write_key],
                max_body=segment_max_body,
                max_message=segment_max_message,
                strict=segment_strict,
            ),
            *encharge_routes([encharge_key], max_body=encharge_max_body),
        ]
        super().__init__(routes, host=host, port=port, max_body=max_body, on_request=on_request)

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
