"""What the Kivy shop tracks, kept free of Kivy so the same code runs without a window.

    python examples/kivy_app/tracking.py --clicks 3    # the shop session with no window (no Kivy)

Events go to Intilery when ``INTILERY_WRITE_KEY`` is set (``INTILERY_ENDPOINT`` for another host,
such as the URL ``edgetrack serve`` prints); without a key, to an emulator started in-process,
which prints what it received at the end. The lifecycle events arrive too: ``Application
Installed`` on the first run (``Updated`` after a version change), ``Application Opened``.
"""

from __future__ import annotations

import argparse
import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager

from edgetrack import Client
from edgetrack.destinations import IntileryMobile
from edgetrack.emulator import Emulator

APP_NAME = "kivy-shop"  # names the queue's folder: keep it stable across versions
APP_VERSION, APP_BUILD = "1.0.0", "1"  # Application Installed / Updated say which
PRODUCTS = ("Espresso", "Croissant", "Orange juice")


class Shop:
    """The shop screen's analytics: a screen view when it opens, an event per product added."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.cart: list[str] = []
        self._products = itertools.cycle(PRODUCTS)

    def opened(self) -> None:
        self.client.screen(name="Shop")  # no user id: the install's anonymous id is used

    def add_to_cart(self) -> str:
        product = next(self._products)
        self.cart.append(product)
        self.client.track(event="Product Added", properties={"product": product, "cart_size": len(self.cart)})
        return product


@contextmanager
def intilery() -> Iterator[IntileryMobile]:
    """The destination: Intilery with a key from the environment, else an in-process emulator."""
    key = os.environ.get("INTILERY_WRITE_KEY")
    if key:
        yield IntileryMobile(key, endpoint=os.environ.get("INTILERY_ENDPOINT", "https://events.intilery.com"))
        return
    with Emulator() as emulator:
        yield IntileryMobile(emulator.write_key, endpoint=emulator.url)
        events = emulator.events()
        print(f"the emulator received {len(events)} events:")
        for event in events:
            name = event.get("event") or event.get("name")
            print(f"  {event['type']:<6} {name} {event.get('properties') or ''}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The Kivy shop's session, without a window.")
    parser.add_argument("--clicks", type=int, default=3, help="times 'Add to cart' is pressed")
    args = parser.parse_args(argv)
    with (
        intilery() as destination,
        Client([destination], app_name=APP_NAME, app_version=APP_VERSION, app_build=APP_BUILD) as client,
    ):
        client.app_opened()  # what bind_kivy does on the app's on_start
        shop = Shop(client)
        shop.opened()
        for _ in range(args.clicks):
            print(f"added {shop.add_to_cart()}")
    # Leaving the ``with`` shut the client down: it sent what it could within its timeout,
    # and anything it could not send stays queued on disk for the next start.


if __name__ == "__main__":
    main()
