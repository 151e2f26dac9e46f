"""The emulator's plumbing: a loopback HTTP/1.1 server, recording, and scripted faults.

Vendor modules register routes; this module parses requests (inflating gzip bodies), asks
the fault script first, then the vendor handler, and writes each response in a single
``send`` with ``TCP_NODELAY`` (Python's ``http.server`` otherwise meets delayed ACK and
costs ~40 ms a request on loopback, which would make every throughput figure measure that).
"""

from __future__ import annotations

import gzip
import json
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Fault", "Limiter", "Received", "Reply", "Route", "Server", "VendorRequest"]


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Reply:
        return cls(
            status,
            json.dumps(payload).encode(),
            {"Content-Type": "application/json", **(headers or {})},
        )


@dataclass(frozen=True)
class Fault:
    """A scripted answer that replaces the vendor's: a status, a delay, or a dropped connection.

    ``delay`` seconds pass before answering (slower than the client's timeout = a hang);
    ``drop=True`` closes the connection without any response (a reset).
    """

    status: int = 500
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


@dataclass(frozen=True)
class VendorRequest:
    """A parsed request as a vendor handler sees it."""

    method: str
    path: str
    match: re.Match[str]
    headers: dict[str, str]
    raw: bytes  # after gzip inflation
    json: Any  # None when the body was not JSON
    json_error: str | None
    query: str

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Received:
    """One request the emulator accepted (2xx), kept for tests and the demo."""

    vendor: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float
    events: list[dict[str, Any]]


Handler = Callable[[VendorRequest], tuple[Reply, list[dict[str, Any]]]]


@dataclass(frozen=True)
class Route:
    """One vendor URL. ``max_body`` (bytes after inflation) overrides the server's cap for this
    route, and ``too_large`` replaces the default 413 answer (Parcelvoy and Segment answer 400)."""

    vendor: str
    method: str
    pattern: re.Pattern[str]
    handler: Handler
    max_body: int | None = None
    too_large: Reply | None = None


class Limiter:
    """A vendor's request rate as a server enforces it: edgetrack's own ``TokenBucket`` (``rate``
    tokens a second, at most ``burst`` banked, starting full), shared by the server's threads."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        from edgetrack.sending import TokenBucket

        self._clock = clock
        self._bucket = TokenBucket(rate, burst, clock())
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend one token if there is one; False means "rate limited"."""
        with self._lock:
            return self._bucket.take(self._clock()) == 0.0


class Server:
    """The threaded loopback server; vendors add routes, tests add faults."""

    def __init__(
        self,
        routes: Iterable[Route],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_body: int = 5 * 1024 * 1024,
        on_request: Callable[[str, int, int], None] | None = None,
    ) -> None:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("the emulator binds loopback only (127.0.0.1 or ::1)")
        self.routes = list(routes)
        self.max_body = max_body
        self.on_request = on_request
        self.received: list[Received] = []
        self.requests = 0  # every request, answered or not
        self._faults: list[tuple[str | None, Fault, int]] = []
        self._down = False
        self.latency = 0.0  # seconds every request waits before the vendor answers it (a slow server)
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.host, self.port = host, port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- scripting -------------------------------------------------------------------------

    def fail_next(self, fault: Fault, *, times: int = 1, vendor: str | None = None) -> None:
        """Answer the next ``times`` requests (to ``vendor``, or any) with ``fault``."""
        with self._lock:
            self._faults.append((vendor, fault, times))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def set_down(self, down: bool) -> None:
        """While down, every connection is closed without a response (an outage)."""
        self._down = down

    def take_fault(self, vendor: str) -> Fault | None:
        """The scripted fault the next request to ``vendor`` gets, if any (spent by taking it)."""
        with self._lock:
            for index, (wanted, fault, times) in enumerate(self._faults):
                if wanted in (None, vendor):
                    if times <= 1:
                        del self._faults[index]
                    else:
                        self._faults[index] = (wanted, fault, times - 1)
                    return fault
        return None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> Server:
        server = self

        class _Handler(_RequestHandler):
            owner = server

        httpd_cls = _IPv6Server if ":" in self.host else _IPv4Server
        self._httpd = httpd_cls((self.host, self.port), _Handler)
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="edgetrack-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    # -- reading what arrived ----------------------------------------------------------------

    def events(self, vendor: str | None = None) -> list[dict[str, Any]]:
        """Every event accepted so far (in arrival order), optionally for one vendor."""
        with self._lock:
            return [e for r in self.received if vendor in (None, r.vendor) for e in r.events]

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self._faults.clear()
            self.requests = 0

    def wait_for_events(self, count: int, timeout: float, vendor: str | None = None) -> bool:
        """Wait until at least ``count`` events have been accepted (for tests of background
        delivery); False if ``timeout`` seconds pass first."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while sum(len(r.events) for r in self.received if vendor in (None, r.vendor)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._arrived.wait(left)
            return True

    # -- what the request handler asks -------------------------------------------------------

    def admit(self) -> bool:
        """Count a request; False while the server is down (the connection is dropped)."""
        with self._lock:
            self.requests += 1
        return not self._down

    def route(self, method: str, path: str) -> tuple[Route, re.Match[str]] | None:
        for route in self.routes:
            match = route.pattern.fullmatch(path)
            if match and route.method == method:
                return route, match
        return None

    def record(self, item: Received) -> None:
        """Keep what a vendor accepted, and wake ``wait_for_events``."""
        with self._lock:
            self.received.append(item)
            self._arrived.notify_all()


class _IPv4Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _IPv6Server(_IPv4Server):
    address_family = socket.AF_INET6


class _RequestHandler(BaseHTTPRequestHandler):
    owner: Server
    protocol_version = "HTTP/1.1"
    server_version = "edgetrack-emulator"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .received
        pass

    def do_POST(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        owner = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not owner.admit():
            self._drop()
            return
        path, _, query = self.path.partition("?")
        path = re.sub("/{2,}", "/", path)  # Intilery's docs show a double slash
        found = owner.route(self.command, path)
        if found is None:
            self._send(Reply.json(404, {"error": f"no route for {self.command} {path}"}))
            return
        route, match = found
        if owner.latency:
            time.sleep(owner.latency)
        fault = owner.take_fault(route.vendor)
        if fault is not None:
            self._fault(fault, route.vendor)
            return
        body = self._body(raw, route)
        if body is None:
            return
        request = self._request(path, match, body, query)
        reply, events = route.handler(request)
        if 200 <= reply.status < 300:
            owner.record(Received(route.vendor, path, request.headers, request.json, time.time(), events))
        self._send(reply, route.vendor, len(events))

    def _fault(self, fault: Fault, vendor: str) -> None:
        if fault.delay:
            time.sleep(fault.delay)
        if fault.drop:
            self._drop()
        else:
            self._send(Reply(fault.status, fault.body, fault.headers), vendor)

    def _body(self, raw: bytes, route: Route) -> bytes | None:
        """The request's body, gunzipped; None when it was answered already (bad gzip, 413)."""
        if self.headers.get("Content-Encoding", "").lower() == "gzip":
            try:
                raw = gzip.decompress(raw)
            except (OSError, EOFError, zlib.error):
                self._send(Reply.json(400, {"error": "body is not valid gzip"}), route.vendor)
                return None
        if len(raw) > (self.owner.max_body if route.max_body is None else route.max_body):
            too_large = route.too_large or Reply.json(413, {"error": "request entity too large"})
            self._send(too_large, route.vendor)
            return None
        return raw

    def _request(self, path: str, match: re.Match[str], raw: bytes, query: str) -> VendorRequest:
        parsed, error = None, None
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError as exc:
                error = str(exc)
        headers = {k.lower(): v for k, v in self.headers.items()}
        return VendorRequest(self.command, path, match, headers, raw, parsed, error, query)

    def _send(self, reply: Reply, vendor: str = "", events: int = 0) -> None:
        head = [f"HTTP/1.1 {reply.status} {self.responses.get(reply.status, ('',))[0]}"]
        headers = {"Content-Length": str(len(reply.body)), **reply.headers}
        head += [f"{key}: {value}" for key, value in headers.items()]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
        self.wfile.flush()
        if self.owner.on_request is not None:
            self.owner.on_request(vendor, reply.status, events)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
        except OSError:
            pass
