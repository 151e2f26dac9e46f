"""Vendor destinations, one module each. Each takes ``endpoint=`` to point at the emulator."""

from __future__ import annotations

from edgetrack.destinations.intilery_mobile import IntileryMobile

__all__ = ["IntileryMobile"]
