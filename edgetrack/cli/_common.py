"""What every queue command shares: finding the queue file, opening it with clear errors, and
printing times and events."""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from edgetrack.configfile import ConfigFile
    from edgetrack.models import QueuedEvent
    from edgetrack.store import SQLiteStore

F = TypeVar("F", bound=Callable[..., Any])
KEY_VARIABLE = "EDGETRACK_KEY"  # an encrypted queue's key, for every command


@dataclass(frozen=True)
class Target:
    """The queue file a command works on, the config file it came from (if any), and how long
    to wait for another process's lock."""

    path: Path
    config: ConfigFile | None
    wait: float = 5.0

    def open(self) -> AbstractContextManager[SQLiteStore]:
        return open_queue(self.path, self.wait, os.environ.get(KEY_VARIABLE) or None)


def queue_options(function: Callable[..., Any]) -> Callable[..., Any]:
    """``--db``, ``--config``, ``--app`` and ``--wait``, resolved into one ``target: Target``
    argument: which queue file, and how long to wait for another process's lock."""

    @functools.wraps(function)
    def command(
        *args: Any,
        db_path: Path | None,
        config_path: Path | None,
        app_name: str | None,
        wait: float,
        **kwargs: Any,
    ) -> Any:
        return function(*args, target=resolve(db_path, config_path, app_name, wait), **kwargs)

    options = [
        click.option(
            "--db",
            "db_path",
            type=click.Path(dir_okay=False, path_type=Path),
            envvar="EDGETRACK_DB",
            help="Queue file [env EDGETRACK_DB]. Default: the config file's path, else --app's.",
        ),
        click.option(
            "--config",
            "config_path",
            type=click.Path(dir_okay=False, path_type=Path),
            envvar="EDGETRACK_CONFIG",
            help="Config file (TOML or JSON) naming the queue and the destinations [env EDGETRACK_CONFIG].",
        ),
        click.option(
            "--app",
            "app_name",
            default=None,
            help="App name whose default queue file to use (the Client's app_name; default edgetrack).",
        ),
        click.option(
            "--wait",
            default=5.0,
            show_default=True,
            type=click.FloatRange(min=0),
            help="Seconds to wait for another process's lock on the queue file.",
        ),
    ]
    decorated: Callable[..., Any] = command
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


def resolve(db_path: Path | None, config_path: Path | None, app_name: str | None, wait: float) -> Target:
    """The queue file to use: --db, else the config file's ``path``, else the app's default."""
    config = None
    if config_path is not None:
        from edgetrack.configfile import load_config
        from edgetrack.errors import ConfigError

        try:
            config = load_config(config_path, keys=False)  # looking needs no secrets; flush loads them
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from exc
    if db_path is not None:
        return Target(db_path, config, wait)
    if config is not None and config.path is not None:
        return Target(config.path, config, wait)
    from edgetrack.store import default_path

    return Target(default_path(app_name or (config.app_name if config else "edgetrack")), config, wait)


def _storage_error(path: Path, exc: Exception, wait: float) -> click.ClickException:
    """What went wrong with the queue file, said for an operator: what to do about it."""
    from edgetrack.errors import StorageError
    from edgetrack.store import classify

    kind = exc.kind if isinstance(exc, StorageError) else classify(exc)
    text = str(exc)
    if kind == "missing":
        return click.ClickException(
            f"no queue file at {path}; pass --db PATH (or --config FILE, or --app NAME for the app's default)"
        )
    if kind == "foreign":
        return click.ClickException(f"{path} is a SQLite file but not an edgetrack queue file; check --db")
    if kind == "locked":
        return click.ClickException(
            f"the queue file {path} is locked by another process (waited {wait:g} s): {text}; "
            "try again, or pass a longer --wait"
        )
    if kind == "key":
        return click.ClickException(f"{text}; set {KEY_VARIABLE} to the app's encryption_key")
    if kind == "corrupt":
        return click.ClickException(
            f"the queue file {path} is corrupt ({text}). The app moves a corrupt file aside "
            "(to queue.db.corrupt-<time>) and starts a new one on its next start; "
            "nothing can be read from this one"
        )
    return click.ClickException(f"cannot use the queue file {path}: {text}")


@contextmanager
def open_queue(path: Path, wait: float, key: str | None = None) -> Iterator[SQLiteStore]:
    """The queue file as a ``SQLiteStore``, refused first if it is missing, locked, corrupt or
    not a queue (nothing is created or written then); every storage error becomes a clear
    message and a non-zero exit. Safe while the app runs: WAL readers do not block its writer.
    ``key``: an encrypted queue's key (``EDGETRACK_KEY``)."""
    from edgetrack.errors import ConfigError, StorageError
    from edgetrack.store import SQLiteStore

    try:
        SQLiteStore.check(path, wait, key)
        store = SQLiteStore.open(path, busy_timeout=wait, key=key)
    except ConfigError as exc:  # SQLCipher is not installed
        raise click.ClickException(str(exc)) from exc
    except (StorageError, sqlite3.Error, OSError) as exc:
        raise _storage_error(path, exc, wait) from exc
    try:
        yield store
    except sqlite3.Error as exc:
        raise _storage_error(path, exc, wait) from exc
    finally:
        store.close()


def when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def describe(body: str) -> str:
    """A short summary of a queued envelope: the event or name, and who it is about."""
    try:
        event = json.loads(body)
    except ValueError:
        return "(unreadable body)"
    what = event.get("event") or event.get("name") or event.get("previousId") or event.get("groupId") or ""
    who = event.get("userId") or event.get("anonymousId") or "-"
    return f"{json.dumps(what) if what else '-'} user={who}"


def event_line(event: QueuedEvent) -> str:
    return f"#{event.id:<8} {when(event.created)}  {event.type:<8} {describe(event.body)}  {event.message_id}"


def event_json(event: QueuedEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "created": event.created,
        "type": event.type,
        "message_id": event.message_id,
        "event": json.loads(event.body),
    }


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
