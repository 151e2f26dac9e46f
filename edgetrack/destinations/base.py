"""Shared pieces of the vendor destinations: endpoint checks, JSON joining, gzip, status mapping."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from edgetrack._version import __version__
from edgetrack.errors import ConfigError
from edgetrack.models import Limits, Outcome, OutcomeKind, QueuedEvent, Request, Response
from edgetrack.plugins import Timeline

__all__ = [
    "ALL_CALLS",
    "USER_AGENT",
    "BaseDestination",
    "Verdict",
    "check_endpoint",
    "check_key",
    "gzip_body",
    "join_json",
    "json_field",
    "json_request",
    "load",
    "segment_batch",
    "standard_outcome",
    "with_fields",
]

ALL_CALLS = frozenset({"track", "identify", "page", "screen", "alias", "group"})
USER_AGENT = f"edgetrack/{__version__}"


def check_key(owner: str, name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{owner}: {name} must be a non-empty str (copy it from the vendor's console)")
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        import ipaddress

        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_endpoint(owner: str, endpoint: object, *, allow_http: bool = False) -> str:
    """``scheme://host[:port][/base]`` without a trailing slash; ``http`` only to loopback."""
    if not isinstance(endpoint, str):
        raise ConfigError(f"{owner}: endpoint must be a str such as 'https://host', not {endpoint!r}")
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{owner}: endpoint {endpoint!r} is not an http(s) URL; use e.g. 'https://host' "
            "or 'http://127.0.0.1:8765' for the emulator"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{owner}: endpoint {endpoint!r} must not have a query or fragment")
    if parts.scheme == "http" and not allow_http and not _is_loopback(parts.hostname):
        raise ConfigError(
            f"{owner}: endpoint {endpoint!r} is plain http to a non-loopback host, which would "
            "send keys and user data unencrypted; use https, or pass allow_http=True"
        )
    return endpoint.strip().rstrip("/")


def join_json(events: Sequence[QueuedEvent]) -> str:
    """A JSON array of the stored bodies, without parsing them again."""
    return "[" + ",".join(event.body for event in events) + "]"


def with_fields(body: str, fields: str) -> str:
    """Add pre-encoded ``"k":v`` pairs to the front of a stored JSON object."""
    return "{" + fields + "," + body[1:]


def gzip_body(text: str) -> bytes:
    """Level 3: ~1.8 us an event here where level 6 costs 4.4 us, for 14 % more bytes (47 vs 41
    an event on a varied batch, 420 uncompressed). A radio wake-up's tail costs joules; the
    bytes and the CPU either way, millijoules: take the cheaper CPU."""
    import gzip

    return gzip.compress(text.encode("utf-8"), compresslevel=3, mtime=0)


def standard_outcome(response: Response) -> Outcome:
    """The common reading of HTTP statuses; vendors override what they document differently."""
    status = response.status
    detail = response.error or response.body[:500].decode("utf-8", "replace")
    if 200 <= status < 300:
        return Outcome(OutcomeKind.ACK)
    if status == 429:
        from edgetrack.retry import parse_retry_after

        retry_after = parse_retry_after(response.header("Retry-After"), response.at)
        return Outcome(OutcomeKind.RATE_LIMITED, detail, retry_after)
    if status == 413:
        return Outcome(OutcomeKind.TOO_LARGE, detail)
    if status in (401, 403):
        return Outcome(OutcomeKind.AUTH, detail)
    if status in _NO_SUCH_ENDPOINT:
        return Outcome(OutcomeKind.CONFIG, detail)
    if status == 0 or status == 408 or status >= 500 or 300 <= status < 400:
        return Outcome(OutcomeKind.TRANSIENT, detail or f"HTTP {status}")
    return Outcome(OutcomeKind.REJECTED, detail)


#: Statuses that say the URL itself is wrong (a wrong endpoint or base path): the lane pauses as
#: misconfigured, keeping its events, instead of dead-lettering them as refused.
_NO_SUCH_ENDPOINT = (404, 405, 410)

Verdict = tuple[str, str]  # ("skipped" | "expired" | "dead", reason): an event this lane will not send


def json_field(body: bytes, name: str) -> object:
    """``body``'s top-level ``name`` when it is a JSON object, else None (never raises)."""
    try:
        value = json.loads(body) if body else None
    except (ValueError, RecursionError):
        return None
    return value.get(name) if isinstance(value, dict) else None


def load(event: QueuedEvent) -> dict[str, Any]:
    """The stored Segment-spec envelope of an event, parsed."""
    result: dict[str, Any] = json.loads(event.body)
    return result


class BaseDestination:
    """Defaults shared by the vendor destinations; each overrides what its API needs.

    ``batch(events)`` says how many of the leading events go into one request (events of
    different endpoints never share one); ``check(event, now)`` lets a vendor refuse an event
    it can never accept (too old, no usable id) with a counted reason instead of a failed
    request; ``interpret`` maps statuses to outcomes.
    """

    name: str
    limits: Limits
    supports: frozenset[str] = ALL_CALLS
    endpoint: str
    rate_limit: tuple[float, int] | None = None  # (requests per second, burst) the vendor allows
    plugins: Timeline = Timeline((), destination=True)  # each built-in destination: plugins=[...]

    def batch(self, events: Sequence[QueuedEvent]) -> int:
        return len(events)

    def check(self, event: QueuedEvent, now: float) -> Verdict | None:
        return None

    def encode(self, events: Sequence[QueuedEvent], *, sent_at: str) -> Request:
        raise NotImplementedError

    def interpret(self, response: Response) -> Outcome:
        return standard_outcome(response)

    def public_path(self, url: str) -> str:
        """The path of ``url`` as it may be shown in logs and ``stats()`` (no keys in it)."""
        return self.redact(urlsplit(url).path or "/")

    def redact(self, text: str) -> str:
        """``text`` with any key this destination puts in its URLs taken out (Batch.com's)."""
        return text

    def __repr__(self) -> str:  # never show keys
        return f"{type(self).__name__}(endpoint={self.endpoint!r}, name={self.name!r})"


def segment_batch(
    url: str,
    events: Sequence[QueuedEvent],
    item_fields: str,
    root_fields: str,
    headers: dict[str, str],
    *,
    compress: bool = True,
) -> Request:
    """A Segment-format ``{"batch": [...], ...}`` request from stored envelopes, without
    re-parsing them: ``item_fields`` (pre-encoded ``"k":v`` pairs) go on every item,
    ``root_fields`` at the root."""
    items = ",".join(with_fields(event.body, item_fields) for event in events)
    text = '{"batch":[' + items + "]," + root_fields + "}"
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
    if compress:
        headers["Content-Encoding"] = "gzip"
        return Request("POST", url, headers, gzip_body(text), events=len(events))
    return Request("POST", url, headers, text.encode("utf-8"), events=len(events))


def json_request(url: str, payload: object, headers: dict[str, str], events: int) -> Request:
    """A plain (uncompressed) JSON POST, for APIs that do not document gzip bodies."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Request(
        "POST",
        url,
        {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
        body,
        events=events,
    )
