"""Configuration objects: frozen, validated at construction, varied with ``dataclasses.replace``."""

from __future__ import annotations

from dataclasses import dataclass

from edgetrack.errors import ConfigError

__all__ = ["QueueLimits", "Timeouts"]


def positive(name: str, value: float, *, integer: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{name} must be a positive number, got {value!r}")
    if integer and not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")


@dataclass(frozen=True)
class QueueLimits:
    """Caps on the on-disk queue; past them the oldest events are dropped and counted.

    The defaults hold about a week of a busy app's events in well under 100 MB.
    """

    max_events: int = 200_000
    max_bytes: int = 64 * 1024 * 1024
    max_event_bytes: int = 32_000
    max_dead_letters: int = 1_000

    def __post_init__(self) -> None:
        positive("QueueLimits.max_events", self.max_events, integer=True)
        positive("QueueLimits.max_bytes", self.max_bytes, integer=True)
        positive("QueueLimits.max_event_bytes", self.max_event_bytes, integer=True)
        positive("QueueLimits.max_dead_letters", self.max_dead_letters, integer=True)
        if self.max_event_bytes > self.max_bytes:
            raise ConfigError("QueueLimits.max_event_bytes must not exceed max_bytes")


@dataclass(frozen=True)
class Timeouts:
    """HTTP timeouts in seconds: connecting, and waiting for each read of the response."""

    connect: float = 10.0
    read: float = 30.0

    def __post_init__(self) -> None:
        positive("Timeouts.connect", self.connect)
        positive("Timeouts.read", self.read)

    def as_tuple(self) -> tuple[float, float]:
        return (self.connect, self.read)
