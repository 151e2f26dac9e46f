"""A loopback emulator of the vendor ingestion APIs, for tests, the demo and ``edgetrack serve``.

    with Emulator() as emu:
        client = Client([IntileryMobile(emu.write_key, endpoint=emu.url)], path=...)
        ...
        emu.fail_next(Fault(429, headers={"Retry-After": "7"}))
        emu.events("intilery_mobile")

Library code never imports this package.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from edgetrack.emulator.core import Fault, Received, Reply, Server
from edgetrack.emulator.intilery import intilery_mobile_routes

__all__ = ["Emulator", "Fault", "Received", "Reply"]

DEFAULT_WRITE_KEY = "emulator-write-key"


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
    ) -> None:
        self.write_key = write_key
        super().__init__(
            intilery_mobile_routes([write_key]),
            host=host,
            port=port,
            max_body=max_body,
            on_request=on_request,
        )

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
