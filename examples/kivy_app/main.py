"""A Kivy shop screen that tracks with edgetrack: a screen view on start, an event per tap.

    pip install kivy                              # and edgetrack
    python examples/kivy_app/main.py              # a window; close it to quit
    python examples/kivy_app/main.py -- --clicks 3   # press "Add to cart" 3 times, then quit
    xvfb-run -a python examples/kivy_app/main.py -- --clicks 3   # the same with no display

Options after ``--`` are the app's (Kivy reads the ones before it). Events go to Intilery when
``INTILERY_WRITE_KEY`` is set (``INTILERY_ENDPOINT`` for another host); otherwise to an emulator
started in-process (see ``tracking.py``, which also runs the same session without a window).
``bind_kivy`` ties the client to the app: start sends ``Application Opened``, pause
``Application Backgrounded`` and resume ``Application Opened`` again (re-reading the power
state), and stop shuts the client down (sending what it can in 2 s; the rest stays queued on
disk). ``Application Installed`` arrives on the first run.
"""

from __future__ import annotations

import argparse
import sys

from kivy.app import App
from kivy.clock import Clock
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.button import Button
from kivy.uix.label import Label
from tracking import APP_BUILD, APP_NAME, APP_VERSION, Shop, intilery

from edgetrack import Client
from edgetrack.destinations import IntileryMobile
from edgetrack.integrations import bind_kivy


class ShopApp(App):
    title = "Shop"

    def __init__(self, destination: IntileryMobile, *, clicks: int = 0) -> None:
        super().__init__()
        self.destination = destination
        self.clicks = clicks

    def build(self) -> BoxLayout:
        self.analytics = Client(
            [self.destination], app_name=APP_NAME, app_version=APP_VERSION, app_build=APP_BUILD
        )
        bind_kivy(self, self.analytics)
        self.shop = Shop(self.analytics)
        self.label = Label(text="Your cart is empty")
        self.button = Button(text="Add to cart", on_press=self.add_to_cart)
        root = BoxLayout(orientation="vertical", padding=24, spacing=12)
        root.add_widget(self.label)
        root.add_widget(self.button)
        return root

    def on_start(self) -> None:
        self.shop.opened()
        if self.clicks:
            Clock.schedule_interval(self._press, 0.05)

    def add_to_cart(self, _button: Button) -> None:
        product = self.shop.add_to_cart()
        self.label.text = f"{product} added ({len(self.shop.cart)} in the cart)"

    def _press(self, _dt: float) -> bool:
        """``--clicks``: press the button like a tap would, then quit."""
        if len(self.shop.cart) >= self.clicks:
            self.stop()
            return False
        self.button.trigger_action(duration=0)
        return True


def main() -> None:
    parser = argparse.ArgumentParser(description="The Kivy shop example.")
    parser.add_argument("--clicks", type=int, default=0, help="press 'Add to cart' N times, then quit")
    args = parser.parse_args(sys.argv[1:])  # importing Kivy left only the options after "--"
    with intilery() as destination:
        ShopApp(destination, clicks=args.clicks).run()


if __name__ == "__main__":
    main()
