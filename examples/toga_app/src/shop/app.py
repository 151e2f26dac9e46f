"""A Toga (BeeWare) shop screen that tracks with edgetrack: a screen view on start, an event per tap.

    cd examples/toga_app
    briefcase dev                                  # or, with toga installed: PYTHONPATH=src python -m shop
    TOGA_BACKEND=toga_dummy PYTHONPATH=src python -m shop   # headless, on Toga's test backend

Events go to Intilery when ``INTILERY_WRITE_KEY`` is set (``INTILERY_ENDPOINT`` for another host,
such as the URL ``edgetrack serve`` prints); otherwise to an emulator started in the app, which
prints each upload it accepts. ``bind_toga`` ties the client to the app: binding sends
``Application Opened``, hiding the window ``Application Backgrounded`` and showing it again
``Application Opened`` (each re-reading the power state), exit shuts the client down (sending
what it can in 2 s; the rest stays queued on disk for the next start). ``Application Installed``
arrives on the first run.
"""

from __future__ import annotations

import os
from typing import Any

import toga
from toga.style.pack import COLUMN, Pack

from edgetrack import Client
from edgetrack.destinations import IntileryMobile
from edgetrack.integrations import bind_toga

PRODUCTS = ("Espresso", "Croissant", "Orange juice")


def intilery() -> IntileryMobile:
    """Intilery with a key from the environment, else an emulator in this process."""
    key = os.environ.get("INTILERY_WRITE_KEY")
    if key:
        return IntileryMobile(
            key, endpoint=os.environ.get("INTILERY_ENDPOINT", "https://events.intilery.com")
        )
    from edgetrack.emulator import Emulator

    def show(vendor: str, status: int, events: int) -> None:
        print(f"emulator: {vendor} answered {status} to {events} events")

    emulator = Emulator(on_request=show).start()  # a daemon thread: it ends with the app
    return IntileryMobile(emulator.write_key, endpoint=emulator.url)


class Shop(toga.App):
    def startup(self) -> None:
        self.cart: list[str] = []
        self.label = toga.Label("Your cart is empty")
        self.add_button = toga.Button("Add to cart", on_press=self.add_to_cart)
        self.main_window = toga.MainWindow()
        self.main_window.content = toga.Box(
            children=[self.label, self.add_button], style=Pack(direction=COLUMN, margin=24, gap=12)
        )
        self.analytics = Client(
            [intilery()],
            path=self.paths.data / "edgetrack" / "queue.db",  # the app's private storage on every platform
            app_name=self.app_name,
            app_version=self.version,
            app_namespace=self.app_id,
        )
        bind_toga(self, self.analytics)  # after main_window is set: it binds on_hide / on_show too
        self.analytics.screen(name="Shop")
        self.main_window.show()

    def add_to_cart(self, button: toga.Button, **kwargs: Any) -> None:
        product = PRODUCTS[len(self.cart) % len(PRODUCTS)]
        self.cart.append(product)
        properties = {"product": product, "cart_size": len(self.cart)}
        self.analytics.track(event="Product Added", properties=properties)
        self.label.text = f"{product} added ({len(self.cart)} in the cart)"


def main() -> Shop:
    # Briefcase supplies these from pyproject.toml; naming them here lets `python -m shop` run too.
    return Shop("Shop", "com.example.edgetrack.shop", version="0.1.0")
