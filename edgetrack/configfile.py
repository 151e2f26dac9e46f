"""Destinations from a file, for the CLI (``edgetrack flush --config``) and for apps that keep
their keys out of code. TOML or JSON, chosen by the file's extension::

    # /etc/kiosk/edgetrack.toml
    app_name = "kiosk"                          # optional: names the default queue folder
    path = "/var/lib/kiosk/queue.db"            # optional: the queue file

    [[destinations]]
    type = "IntileryMobile"                     # a class in edgetrack.destinations
    write_key_env = "INTILERY_WRITE_KEY"        # "<argument>_env": read from that variable

    [[destinations]]
    type = "Segment"
    write_key = "wk_123"
    endpoint = "https://api.segment.io"

    [client]                                    # optional: Client options
    durable = true
    flush_at = 50

Every other key of a destination is passed to the class as a keyword argument, so the names
are the constructor's (``write_key``, ``api_key``, ``endpoint``, ``name``, ...). ``[client]``
takes the plain ``Client`` options in ``CLIENT_OPTIONS``; ``ConfigFile.client()`` builds the
client. ``EDGETRACK_CONFIG`` names the file when the CLI gets no ``--config``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgetrack.errors import ConfigError

__all__ = ["CLIENT_OPTIONS", "ConfigFile", "load_config"]

CLIENT_OPTIONS = (
    "app_version",
    "auto_anonymous_id",
    "durable",
    "flush_at",
    "flush_interval",
    "send",
    "shutdown_timeout",
)

_TYPES = ("IntileryMobile", "IntileryEvents", "Parcelvoy", "Encharge", "BatchCom", "Segment")


@dataclass(frozen=True)
class ConfigFile:
    """What a config file says: the queue file (if named), the app name and the destinations."""

    source: Path
    destinations: list[Any] = field(default_factory=list)
    path: Path | None = None
    app_name: str = "edgetrack"
    options: dict[str, Any] = field(default_factory=dict)
    lanes: list[str] = field(default_factory=list)  # the destinations' lane names

    def client(self, **overrides: Any) -> Any:
        """A ``Client`` with this file's destinations, queue file and options (``overrides`` win)."""
        from edgetrack.client import Client

        kwargs: dict[str, Any] = {"path": self.path, "app_name": self.app_name, **self.options, **overrides}
        return Client(self.destinations, **kwargs)


def _parse(source: Path) -> dict[str, Any]:
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {source}: {exc.strerror or exc}") from exc
    if source.suffix.lower() == ".json":
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ConfigError(f"{source} is not valid JSON: {exc}") from exc
    else:
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # the same parser, from PyPI (a dependency on Python 3.10 only)
            import tomli as tomllib

        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source} is not valid TOML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a table/object with a 'destinations' list")
    return data


def _destination(source: Path, index: int, entry: Any) -> Any:
    import edgetrack.destinations as module

    where = f"{source}: destinations[{index}]"
    if not isinstance(entry, dict):
        raise ConfigError(f"{where} must be a table/object with a 'type' key")
    kwargs = dict(entry)
    kind = kwargs.pop("type", None)
    if kind not in _TYPES:
        raise ConfigError(f"{where}: type must be one of {', '.join(_TYPES)}; got {kind!r}")
    for key in [k for k in kwargs if k.endswith("_env")]:
        variable = kwargs.pop(key)
        value = os.environ.get(str(variable))
        if not value:
            raise ConfigError(f"{where}: {key} names the environment variable {variable!r}, which is not set")
        kwargs[key[: -len("_env")]] = value
    try:
        return getattr(module, kind)(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where} ({kind}): {exc}; use the constructor's argument names") from exc
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from exc


def _lane_name(source: Path, index: int, entry: Any) -> str:
    """A destination's lane name without building it (no key needed): its ``name``, or its
    class's default."""
    import inspect

    import edgetrack.destinations as module

    where = f"{source}: destinations[{index}]"
    if not isinstance(entry, dict) or entry.get("type") not in _TYPES:
        raise ConfigError(f"{where}: type must be one of {', '.join(_TYPES)}; got {entry!r}")
    if isinstance(entry.get("name"), str):
        return str(entry["name"])
    default = inspect.signature(getattr(module, entry["type"])).parameters["name"].default
    return str(default)


def load_config(source: str | os.PathLike[str], *, keys: bool = True) -> ConfigFile:
    """Read a config file; raises ``ConfigError`` naming the file, the entry and what to change.

    ``keys=False`` reads it without building the destinations (so without their keys): what
    the CLI's read-only commands need, the queue file and the lane names, on a machine where
    the keys' environment variables are not set.
    """
    source = Path(source)
    data = _parse(source)
    unknown = sorted(set(data) - {"app_name", "path", "destinations", "client"})
    if unknown:
        raise ConfigError(f"{source}: unknown keys {unknown}; expected app_name, path, destinations, client")
    options = data.get("client", {})
    if not isinstance(options, dict) or set(options) - set(CLIENT_OPTIONS):
        bad = sorted(set(options) - set(CLIENT_OPTIONS)) if isinstance(options, dict) else options
        raise ConfigError(f"{source}: [client] takes {', '.join(CLIENT_OPTIONS)}; not {bad}")
    entries = data.get("destinations", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: 'destinations' must be a list of tables/objects")
    app_name = data.get("app_name", "edgetrack")
    if not isinstance(app_name, str) or not app_name:
        raise ConfigError(f"{source}: app_name must be a non-empty string")
    path = data.get("path")
    if path is not None and not isinstance(path, str):
        raise ConfigError(f"{source}: path must be a string (the queue file)")
    return ConfigFile(
        source=source,
        destinations=[_destination(source, i, entry) for i, entry in enumerate(entries)] if keys else [],
        path=Path(path).expanduser() if path else None,
        app_name=app_name,
        options=dict(options),
        lanes=[_lane_name(source, i, entry) for i, entry in enumerate(entries)],
    )
