"""Network faults over real loopback HTTP: the scripted emulator, and a tiny raw server for what no
HTTP server library would send (garbage, resets mid-response, enormous bodies, redirects, hangs).

No event is lost, memory and threads stay bounded, and the app's thread is never blocked. Nothing
here asserts a duration: waits poll for an outcome, and pytest's timeout is the only guard.
"""

from __future__ import annotations

import gzip
import json
import socket
import socketserver
import struct
import threading
import time
import tracemalloc
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from edgetrack import Client, RetryPolicy, Timeouts
from edgetrack.destinations import BatchCom, Encharge, IntileryEvents, IntileryMobile, Parcelvoy, Segment
from edgetrack.destinations.base import BaseDestination
from edgetrack.emulator import Emulator, Fault

pytestmark = pytest.mark.slow  # outages, 429 storms and slow servers in real time

FAST = RetryPolicy(
    startup_jitter=0.0,
    backoff_base=0.05,
    backoff_cap=0.2,
    rate_limit_min=0.05,
    rate_limit_cap=0.2,
    auth_pause_base=0.05,
    auth_pause_cap=0.2,
)
QUICK = Timeouts(connect=0.5, read=0.5)
LANE = "intilery_mobile"
KEY = "network-faults-write-key"
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
MB = 1024 * 1024


def make(destinations: list[BaseDestination], path: Path, **kwargs: Any) -> Client:
    """A client that uploads every event at once and retries within a fraction of a second."""
    options: dict[str, Any] = {"retry": FAST, "timeouts": QUICK, "power": None, "flush_at": 1}
    options.update(kwargs)
    return Client(destinations, path=path, **options)


def wait_for(condition: Callable[[], object], timeout: float = 60.0) -> bool:
    """Poll until ``condition()`` holds (True) or a generous guard passes (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def edgetrack_threads() -> list[str]:
    return sorted(
        t.name for t in threading.enumerate() if t.name.startswith("edgetrack-") and "emulator" not in t.name
    )


def track_many(client: Client, n: int, prefix: str = "u") -> list[str]:
    return [client.track(f"{prefix}{i % 7}", "Order Completed", {"i": i})[1]["messageId"] for i in range(n)]


def delivered(client: Client, n: int, lane: str = LANE) -> Callable[[], bool]:
    """True once the client has recorded ``n`` deliveries (the emulator may have them a moment earlier)."""
    return lambda: client.stats().lanes[lane].delivered >= n


def arrived(emu: Emulator, vendor: str = LANE) -> list[str]:
    return [event["messageId"] for event in emu.events(vendor)]


# -- a raw loopback server --------------------------------------------------------------------


@dataclass
class Seen:
    """One request the raw server read in full."""

    path: str
    headers: dict[str, str]
    ids: list[str]


Answer = Callable[["RawServer", int, socket.socket], None]


def reset(sock: socket.socket) -> None:
    """Close with an RST instead of a FIN (SO_LINGER 0)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


@dataclass
class RawServer:
    """A loopback HTTP/1.1 peer: reads each request whole, records it, then ``answer`` writes raw bytes.

    ``answer(server, n, sock)`` gets the request's number (0 first); the default answers 200 ``{}``.
    Intilery mobile batches are decoded so tests can see which events each request carried.
    """

    answer: Answer | None = None
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0
    sent: int = 0  # body bytes a streaming answer managed to write
    send_error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                owner._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def ids(self, requests: list[Seen] | None = None) -> list[str]:
        return [i for seen in (self.requests if requests is None else requests) for i in seen.ids]

    def _serve(self, sock: socket.socket) -> None:
        with self.lock:
            self.connections += 1
        sock.settimeout(10)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
            }
            while len(body) < int(headers.get("content-length", "0")):
                chunk = sock.recv(65536)
                if not chunk:
                    return
                body += chunk
        except OSError:
            return
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        try:
            ids = [item["messageId"] for item in json.loads(body)["batch"]]
        except (ValueError, KeyError, TypeError):
            ids = []
        with self.lock:
            number = len(self.requests)
            self.requests.append(Seen(lines[0].split(" ")[1], headers, ids))
        try:
            (self.answer or answer_ok)(self, number, sock)
        except OSError as exc:
            self.send_error = repr(exc)


def answer_ok(server: RawServer, n: int, sock: socket.socket) -> None:
    sock.sendall(OK)


@pytest.fixture
def raw() -> Iterator[RawServer]:
    server = RawServer()
    yield server
    server.close()


# -- rate limits, refusals, server errors -------------------------------------------------------


def test_a_429_storm_delays_but_loses_nothing(emulator: Emulator, tmp_path: Path) -> None:
    """20 429s in a row (Retry-After absent, 0, huge, an HTTP date, garbage): every event arrives once."""
    for retry_after, times in [
        (None, 5),
        ("0", 5),
        ("999999", 3),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 4),
        ("soon", 3),
    ]:
        headers = {"Retry-After": retry_after} if retry_after else {}
        emulator.fail_next(Fault(429, b'{"error":"slow down"}', headers), times=times)
    with make([IntileryMobile(emulator.write_key, endpoint=emulator.url)], tmp_path / "q.db") as client:
        ids = track_many(client, 60)
        assert wait_for(delivered(client, 60))
        lane = client.stats().lanes[LANE]
    assert sorted(arrived(emulator)) == sorted(ids)
    assert lane.paused == {"rate_limited": 20}
    assert lane.delivered == 60 and lane.pending == 0 and not lane.dead_lettered and not lane.dropped


def test_a_413_splits_the_batch_and_every_event_arrives_once(emulator: Emulator, tmp_path: Path) -> None:
    """A 413 on a 40-event batch splits it; every event is delivered once and none is dead-lettered."""
    with make(
        [IntileryMobile(emulator.write_key, endpoint=emulator.url)], tmp_path / "q.db", send=False
    ) as c:
        ids = track_many(c, 40)
    emulator.fail_next(Fault(413, b'{"error":"request entity too large"}'))
    with make([IntileryMobile(emulator.write_key, endpoint=emulator.url)], tmp_path / "q.db") as client:
        assert client.flush(10) is True
        lane = client.stats().lanes[LANE]
    assert arrived(emulator) == ids
    assert lane.split == {"too_large": 1} and not lane.dead_lettered


def test_an_event_the_server_always_finds_too_large_is_dead_lettered_not_lost(tmp_path: Path) -> None:
    """Only the event over the server's limit is set aside (with the 413's text); the rest arrive once."""
    with Emulator(max_body=4_000) as emu:
        with make([IntileryMobile(emu.write_key, endpoint=emu.url)], tmp_path / "q.db", send=False) as c:
            before = track_many(c, 10)
            big = c.track("u", "Big", {"blob": "x" * 6_000})[1]["messageId"]
            after = track_many(c, 10)
        with make([IntileryMobile(emu.write_key, endpoint=emu.url)], tmp_path / "q.db") as client:
            assert client.flush(10) is False  # not every event was delivered: one was dead-lettered
            [dead] = client.dead_letters()
            lane = client.stats().lanes[LANE]
        assert sorted(arrived(emu)) == sorted(before + after)
    assert dead.message_id == big and "413" in dead.detail and "too large" in dead.detail
    assert lane.dead_lettered == {"too_large": 1} and lane.delivered == 20


def test_a_5xx_burst_delays_but_loses_nothing(emulator: Emulator, tmp_path: Path) -> None:
    """17 5xx answers in a row (past the point where the lane probes with its head event alone)."""
    for status, times in [(500, 5), (502, 4), (503, 4), (504, 4)]:
        emulator.fail_next(Fault(status, b"<html>upstream trouble</html>"), times=times)
    with make([IntileryMobile(emulator.write_key, endpoint=emulator.url)], tmp_path / "q.db") as client:
        ids = track_many(client, 50)
        assert wait_for(delivered(client, 50))
        lane = client.stats().lanes[LANE]
    assert sorted(arrived(emulator)) == sorted(ids)
    assert lane.retried == {"transient": 17}
    assert lane.delivered == 50 and lane.pending == 0 and not lane.dead_lettered


def test_responses_slower_than_the_timeout_are_retried(emulator: Emulator, tmp_path: Path) -> None:
    """Two answers that come after the read timeout count as failures; the events arrive once."""
    emulator.fail_next(Fault(200, delay=1.5), times=2)
    with make([IntileryMobile(emulator.write_key, endpoint=emulator.url)], tmp_path / "q.db") as client:
        ids = track_many(client, 5)
        assert wait_for(delivered(client, 5))
        lane = client.stats().lanes[LANE]
    assert arrived(emulator) == ids
    assert lane.retried == {"transient": 2} and lane.delivered == 5
    assert lane.last_error is None  # the delivery that followed cleared it


# -- resets and garbage ------------------------------------------------------------------------


def test_connections_reset_before_any_answer_are_retried(emulator: Emulator, tmp_path: Path) -> None:
    """Three connections reset after the request was read: the events stay queued and arrive once."""
    emulator.fail_next(Fault(drop=True), times=3)
    with make([IntileryMobile(emulator.write_key, endpoint=emulator.url)], tmp_path / "q.db") as client:
        ids = track_many(client, 5)
        assert wait_for(delivered(client, 5))
        lane = client.stats().lanes[LANE]
    assert arrived(emulator) == ids and lane.retried == {"transient": 3}


def test_a_reset_inside_the_status_line_is_retried(raw: RawServer, tmp_path: Path) -> None:
    """'HTTP/1.1 2' then a reset is no answer: the events are sent again and then delivered."""

    def answer(server: RawServer, n: int, sock: socket.socket) -> None:
        if n < 2:
            sock.sendall(b"HTTP/1.1 2")
            reset(sock)
        else:
            sock.sendall(OK)

    raw.answer = answer
    with make([IntileryMobile(KEY, endpoint=raw.url)], tmp_path / "q.db") as client:
        ids = track_many(client, 5)
        assert wait_for(delivered(client, 5))
        lane = client.stats().lanes[LANE]
    assert sorted(set(raw.ids(raw.requests[2:]))) == sorted(ids)  # all in the answered requests
    assert lane.retried == {"transient": 2} and lane.pending == 0


def test_a_reset_inside_a_200_body_counts_as_delivered(raw: RawServer, tmp_path: Path) -> None:
    """A complete 200 status and headers, then a reset mid-body: delivered, and not sent again."""

    def answer(server: RawServer, n: int, sock: socket.socket) -> None:
        sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{"partial":')
        time.sleep(0.05)
        reset(sock)

    raw.answer = answer
    with make([IntileryMobile(KEY, endpoint=raw.url)], tmp_path / "q.db", flush_at=5) as client:
        ids = track_many(client, 5)
        assert client.flush(10) is True
        lane = client.stats().lanes[LANE]
    assert raw.ids() == ids and len(raw.requests) == 1
    assert lane.delivered == 5 and not lane.retried


@pytest.mark.parametrize(
    "garbage",
    [b"\x00\xffgarbage, not HTTP\r\n\r\n", b"HTTP/1.1 abc Nope\r\n\r\n", b"SSH-2.0-OpenSSH_9.6\r\n", b""],
    ids=["binary", "bad-status", "other-protocol", "empty"],
)
def test_garbage_instead_of_an_answer_is_retried(raw: RawServer, tmp_path: Path, garbage: bytes) -> None:
    """Non-HTTP bytes (or nothing) in answer are failures: the events stay queued and then arrive."""

    def answer(server: RawServer, n: int, sock: socket.socket) -> None:
        sock.sendall(garbage if n < 3 else OK)

    raw.answer = answer
    with make([IntileryMobile(KEY, endpoint=raw.url)], tmp_path / "q.db") as client:
        ids = track_many(client, 5)
        assert wait_for(delivered(client, 5))
        lane = client.stats().lanes[LANE]
    assert sorted(set(raw.ids(raw.requests[3:]))) == sorted(ids)
    assert lane.retried == {"transient": 3} and lane.pending == 0


def test_a_200_with_a_garbage_body_is_delivered_once(raw: RawServer, tmp_path: Path) -> None:
    """The status decides: a 200 whose body is binary noise is a delivery, not a reason to resend."""
    noise = bytes(range(256)) * 40

    def answer(server: RawServer, n: int, sock: socket.socket) -> None:
        sock.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(noise)
        )
        sock.sendall(noise)

    raw.answer = answer
    with make([IntileryMobile(KEY, endpoint=raw.url)], tmp_path / "q.db", flush_at=5) as client:
        ids = track_many(client, 5)
        assert client.flush(10) is True
    assert raw.ids() == ids and len(raw.requests) == 1


# -- enormous bodies ---------------------------------------------------------------------------


_BOMB: list[bytes] = []


def gzip_bomb() -> bytes:
    """200 MiB of zeros, gzipped (~200 KB)."""
    if not _BOMB:
        packer = zlib.compressobj(9, zlib.DEFLATED, 31)
        zeros = bytes(MB)
        _BOMB.append(b"".join(packer.compress(zeros) for _ in range(200)) + packer.flush())
    return _BOMB[0]


def stream_plain(server: RawServer, n: int, sock: socket.socket) -> None:
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % (50 * MB))
    chunk = b"x" * 65536
    for _ in range(50 * MB // len(chunk)):
        sock.sendall(chunk)
        server.sent += len(chunk)


def stream_chunked(server: RawServer, n: int, sock: socket.socket) -> None:
    sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"y" * 65536
    for _ in range(50 * MB // len(chunk)):
        sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        server.sent += len(chunk)
    sock.sendall(b"0\r\n\r\n")


def send_bomb(server: RawServer, n: int, sock: socket.socket) -> None:
    bomb = gzip_bomb()
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb))
    sock.sendall(bomb)
    server.sent += len(bomb)


@pytest.mark.parametrize(
    "answer",
    [stream_plain, stream_chunked, send_bomb],
    ids=["50MB-content-length", "50MB-chunked", "gzip-bomb"],
)
def test_an_enormous_200_body_is_read_bounded_and_counts_as_delivered(
    raw: RawServer, tmp_path: Path, answer: Answer
) -> None:
    """The SDK reads a bounded prefix of a 50 MB (or 200 MiB gzipped) body, then hangs up: delivered once."""
    gzip_bomb()
    raw.answer = answer
    with make([IntileryMobile(KEY, endpoint=raw.url)], tmp_path / "q.db", flush_at=5) as client:
        tracemalloc.start()
        try:
            ids = track_many(client, 5)
            assert client.flush(30) is True
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        lane = client.stats().lanes[LANE]
    assert raw.ids() == ids and len(raw.requests) == 1
    assert lane.delivered == 5 and not lane.retried
    assert peak < 8 * MB, f"peak Python memory {peak / MB:.1f} MiB while reading the answer"
    if answer is not send_bomb:
        assert wait_for(lambda: raw.send_error is not None)  # the SDK hung up long before the end
        assert raw.sent < 25 * MB


# -- redirects ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_never_followed(raw: RawServer, tmp_path: Path, status: int) -> None:
    """A 3xx is a failure to retry later: neither the other host nor the other path sees a request."""
    elsewhere = RawServer()
    moved = {"yes": True}

    def answer(server: RawServer, n: int, sock: socket.socket) -> None:
        if moved["yes"]:
            where = f"{elsewhere.url}/steal" if n % 2 else "/elsewhere"
            sock.sendall(
                b"HTTP/1.1 %d Moved\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % (status, where.encode())
            )
        else:
            sock.sendall(OK)

    raw.answer = answer
    try:
        with make([IntileryMobile(KEY, endpoint=raw.url)], tmp_path / "q.db") as client:
            ids = track_many(client, 5)
            assert wait_for(lambda: client.stats().lanes[LANE].retried.get("transient", 0) >= 4)
            lane = client.stats().lanes[LANE]
            assert lane.pending == 5 and lane.delivered == 0
            assert elsewhere.connections == 0
            assert {seen.path for seen in raw.requests} == {"/cdp/events/segment/mobile/batch"}
            moved["yes"] = False
            assert client.flush(10) is True
    finally:
        elsewhere.close()
    assert raw.ids(raw.requests[-1:]) == ids
    assert elsewhere.connections == 0


# -- long outages, hangs, bounded threads and memory --------------------------------------------


def every_vendor(emu: Emulator) -> list[BaseDestination]:
    return [
        IntileryMobile(emu.write_key, endpoint=emu.url),
        IntileryEvents(
            emu.intilery_client_id,
            emu.intilery_account_id,
            emu.intilery_brand_id,
            emu.intilery_token,
            endpoint=emu.url,
        ),
        Parcelvoy(emu.parcelvoy_key, endpoint=emu.url),
        Encharge(emu.encharge_key, endpoint=emu.url),
        BatchCom(emu.batch_api_key, emu.batch_rest_key, endpoint=emu.url),
        Segment(emu.segment_write_key, endpoint=emu.url),
    ]


def failed_at_least(client: Client, n: int) -> bool:
    return all(lane.retried.get("transient", 0) >= n for lane in client.stats().lanes.values())


def test_a_long_outage_of_every_vendor_loses_nothing_and_stays_bounded(
    emulator: Emulator, tmp_path: Path
) -> None:
    """Server down through hundreds of failed attempts on six lanes: one thread a lane, flat memory,
    track() unaffected, nothing dead-lettered; once it is back, every event arrives once per vendor."""
    emulator.set_down(True)
    baseline, ours_before = threading.active_count(), Counter(edgetrack_threads())
    vendors = every_vendor(emulator)
    with make(vendors, tmp_path / "q.db") as client:
        ids = track_many(client, 100)
        assert wait_for(lambda: failed_at_least(client, 5))  # every lane has failed several times
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            ids += track_many(client, 100)
            assert wait_for(lambda: failed_at_least(client, 20))
            after, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        ours = sorted((Counter(edgetrack_threads()) - ours_before).elements())
        assert ours == sorted(["edgetrack-writer"] + [f"edgetrack-scheduler-{d.name}" for d in vendors])
        assert threading.active_count() <= baseline + len(vendors) + 1 + 8  # + the emulator's handler threads
        assert after - before < 2 * MB, f"{(after - before) / MB:.1f} MiB more during the outage"
        stats = client.stats()
        for lane in stats.lanes.values():
            assert lane.pending == 200 and lane.delivered == 0 and not lane.dead_lettered and not lane.dropped
        emulator.set_down(False)
        assert client.flush(30) is True
        stats = client.stats()
    for name, lane in stats.lanes.items():
        assert (lane.delivered, lane.pending) == (200, 0), name
        assert len(emulator.events(name)) == 200, name
    for name in ("intilery_mobile", "segment"):
        assert sorted(arrived(emulator, name)) == sorted(ids)


def test_a_server_that_is_not_there_until_later_gets_every_event(tmp_path: Path) -> None:
    """Connections refused (nothing listening) for many attempts; the vendor starts; every event arrives."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with make([IntileryMobile(KEY, endpoint=url)], tmp_path / "q.db") as client:
        ids = track_many(client, 30)
        assert wait_for(lambda: client.stats().lanes[LANE].retried.get("transient", 0) >= 10)
        assert client.stats().lanes[LANE].pending == 30
        with Emulator(port=port, write_key=KEY) as emu:
            assert client.flush(10) is True
            assert arrived(emu) == ids


def test_the_apps_thread_is_never_blocked_by_a_hanging_server(raw: RawServer, tmp_path: Path) -> None:
    """While the upload hangs (no answer at all), track(), durable commits, flush(timeout), stats()
    and a second lane all go on; the hung events arrive once the server answers."""
    release = threading.Event()
    hanging = threading.Event()

    def answer(server: RawServer, n: int, sock: socket.socket) -> None:
        hanging.set()
        release.wait(60)
        sock.sendall(OK)

    raw.answer = answer
    with Emulator() as emu:
        destinations = [
            IntileryMobile(KEY, endpoint=raw.url),
            Segment(emu.segment_write_key, endpoint=emu.url),
        ]
        timeouts = Timeouts(connect=5, read=60)  # the hang outlasts everything below
        with make(destinations, tmp_path / "q.db", timeouts=timeouts) as client:
            first = client.track("u", "Before the hang")[1]["messageId"]
            assert hanging.wait(30)
            ids = [first, *track_many(client, 3_000)]
            ok, durable = client.track("u", "Durable", {"n": 1}, flush=True)
            ids.append(durable["messageId"])
            assert ok is True
            assert client.flush(0.2) is False
            lane = client.stats().lanes[LANE]
            assert lane.delivered == 0 and lane.in_flight >= 1 and lane.pending == len(ids)
            assert wait_for(delivered(client, len(ids), "segment"))  # the other lane is not held
            assert not release.is_set()
            release.set()
            assert client.flush(30) is True
    assert sorted(set(raw.ids())) == sorted(ids)
    assert raw.ids().count(first) == 1


# -- found by these tests: bugs since fixed, kept as regression tests ---------------------------


def test_a_deeply_nested_json_answer_from_batch_com_counts_once(raw: RawServer, tmp_path: Path) -> None:
    """A 201 whose body is 60,000 '[' is still a 201: delivered, not sent again on every pass."""
    body = b"[" * 60_000

    def answer(server: RawServer, n: int, sock: socket.socket) -> None:
        sock.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    raw.answer = answer
    with make([BatchCom("app-key", "rest-key", endpoint=raw.url)], tmp_path / "q.db", flush_at=3) as client:
        for i in range(3):
            client.track("u", "Order Completed", {"i": i})
        flushed = client.flush(3)
        sent = len(raw.requests)
    assert (flushed, sent) == (True, 1)
