"""Security promises: HTTPS off loopback unless opted out, TLS always verified (a custom CA can be
given), keys and tokens never written to the queue file or the logs, the queue owner-only,
nothing stored ever unpickled or evaluated, and response bodies read with a size bound.

TLS tests use a throwaway CA made with the ``openssl`` command (skipped where there is none).
"""

from __future__ import annotations

import base64
import gzip
import logging
import os
import re
import shutil
import socket
import socketserver
import sqlite3
import ssl
import stat
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import edgetrack
from edgetrack import Client, ConfigError, DeliveryFailure, RetryPolicy, Timeouts
from edgetrack.destinations import BatchCom, Encharge, IntileryEvents, IntileryMobile, Parcelvoy, Segment
from edgetrack.destinations.base import BaseDestination
from edgetrack.emulator import Emulator, Fault
from edgetrack.models import Request
from edgetrack.sending import HttpSender

FAST = RetryPolicy(
    startup_jitter=0.0, backoff_base=0.05, backoff_cap=0.2, auth_pause_base=0.05, auth_pause_cap=0.2
)
QUICK = Timeouts(connect=0.5, read=0.5)
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
PACKAGE = Path(edgetrack.__file__).parent

# -- https off loopback --------------------------------------------------------------------------

Make = Callable[..., BaseDestination]
CONSTRUCTORS: dict[str, Make] = {
    "IntileryMobile": lambda endpoint, **kw: IntileryMobile("k", endpoint=endpoint, **kw),
    "IntileryEvents": lambda endpoint, **kw: IntileryEvents(
        "acme", "acme", "ACME", "t", endpoint=endpoint, **kw
    ),
    "Parcelvoy": lambda endpoint, **kw: Parcelvoy("pk_k", endpoint=endpoint, **kw),
    "Encharge": lambda endpoint, **kw: Encharge("k", endpoint=endpoint, **kw),
    "BatchCom": lambda endpoint, **kw: BatchCom("k", "r", endpoint=endpoint, **kw),
    "Segment": lambda endpoint, **kw: Segment("k", endpoint=endpoint, **kw),
}
PLAIN_HTTP_ELSEWHERE = [
    "http://example.com",
    "http://10.0.0.5:8080",
    "http://192.168.1.10/base",
    "http://127.0.0.1.example.com",
    "http://localhost.example.com",
    "http://localhost@example.com",
    "http://0.0.0.0:8765",
    "HTTP://example.com",
    "  http://example.com/  ",
]
LOOPBACK = [
    "http://127.0.0.1:8765",
    "http://localhost",
    "http://LOCALHOST:80",
    "http://[::1]:8765",
    "http://127.9.9.9",
]
NOT_HTTP = [
    "ftp://example.com",
    "file:///etc/passwd",
    "ws://example.com",
    "example.com",
    "//example.com",
    "https://",
]


@pytest.mark.parametrize("vendor", sorted(CONSTRUCTORS))
def test_plain_http_off_loopback_needs_the_explicit_opt_out(vendor: str) -> None:
    """Plain http to a non-loopback host is a ConfigError naming https and allow_http (the opt-out)."""
    make = CONSTRUCTORS[vendor]
    for endpoint in PLAIN_HTTP_ELSEWHERE:
        with pytest.raises(ConfigError, match="allow_http") as refused:
            make(endpoint)
        assert "https" in str(refused.value) and isinstance(refused.value, ValueError)
        assert make(endpoint, allow_http=True).endpoint.lower().startswith("http://")
    for endpoint in ["https://example.com", "https://10.0.0.5:8443/base", *LOOPBACK]:
        make(endpoint)


@pytest.mark.parametrize("vendor", sorted(CONSTRUCTORS))
def test_endpoints_that_are_not_http_urls_are_refused_even_with_the_opt_out(vendor: str) -> None:
    """file://, ftp://, ws:// and scheme-less endpoints are refused whatever allow_http says."""
    for endpoint in NOT_HTTP:
        with pytest.raises(ConfigError):
            CONSTRUCTORS[vendor](endpoint, allow_http=True)


# -- TLS -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA and a server certificate it signed for ``localhost`` only (no IP SAN)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make test certificates")
    folder = tmp_path_factory.mktemp("pki")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=folder, check=True, capture_output=True)

    # A CA as Python 3.13's stricter X.509 checks want it: critical basicConstraints and keyUsage.
    ca_extensions = [
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-addext", "subjectKeyIdentifier=hash",
    ]  # fmt: skip
    run(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=test CA",
        *ca_extensions,
    )
    run("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (folder / "ext.cnf").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
        "subjectAltName=DNS:localhost\nauthorityKeyIdentifier=keyid\n"
    )
    run(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf",
    )  # fmt: skip
    return {"ca": folder / "ca.pem", "cert": folder / "server.pem", "key": folder / "server.key"}


class TlsSink:
    """An HTTPS loopback server answering 200 ``{}``; counts handshakes that failed and requests."""

    def __init__(self, cert: Path, key: Path) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.requests: list[bytes] = []
        self.failed_handshakes = 0
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.settimeout(10)
                try:
                    with context.wrap_socket(self.request, server_side=True) as tls:
                        data = b""
                        while b"\r\n\r\n" not in data or len(data) < _request_size(data):
                            chunk = tls.recv(65536)
                            if not chunk:
                                return
                            data += chunk
                        owner.requests.append(data)
                        tls.sendall(OK)  # after reading the body: unread bytes would make close() reset
                except (ssl.SSLError, OSError):
                    owner.failed_handshakes += 1

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _request_size(data: bytes) -> int:
    """Head plus Content-Length body, once the head is in."""
    head, _, _ = data.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return len(head) + 4 + (int(length.group(1)) if length else 0)


@pytest.fixture
def tls_sink(pki: dict[str, Path]) -> Iterator[TlsSink]:
    sink = TlsSink(pki["cert"], pki["key"])
    yield sink
    sink.close()


def _tls_client(path: Path, endpoint: str, sender: Callable[[], Any] | None = None) -> Client:
    options: dict[str, Any] = {"retry": FAST, "timeouts": QUICK, "power": None, "shutdown_timeout": 1.0}
    if sender is not None:
        options["sender"] = sender
    return Client([IntileryMobile("tls-key", endpoint=endpoint)], path=path, **options)


@pytest.mark.slow
def test_an_untrusted_certificate_is_refused_by_default(
    tls_sink: TlsSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pki: dict[str, Path]
) -> None:
    """A certificate from an unknown CA fails the handshake: nothing is sent, the event stays queued,
    and environment variables (CA bundle, empty CURL_CA_BUNDLE) cannot change that."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(pki["ca"]))
    monkeypatch.setenv("CURL_CA_BUNDLE", "")
    with _tls_client(tmp_path / "q.db", f"https://localhost:{tls_sink.port}") as client:
        client.track("u", "E")
        assert client.flush(1) is False
        lane = client.stats().lanes["intilery_mobile"]
    assert lane.pending == 1 and lane.delivered == 0
    assert lane.last_error is not None and "certificate" in lane.last_error.lower()
    assert tls_sink.requests == [] and tls_sink.failed_handshakes >= 1


class ConnectProxy:
    """An HTTP CONNECT proxy on loopback that records the targets it tunnels to."""

    def __init__(self) -> None:
        self.targets: list[str] = []
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                head = b""
                while b"\r\n\r\n" not in head:
                    chunk = self.request.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                target = head.split(b" ", 2)[1].decode()
                owner.targets.append(target)
                host, _, port = target.rpartition(":")
                with socket.create_connection((host, int(port)), timeout=10) as upstream:
                    self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                    relay = threading.Thread(target=_pipe, args=(upstream, self.request), daemon=True)
                    relay.start()
                    _pipe(self.request, upstream)
                    relay.join(10)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        try:
            target.shutdown(socket.SHUT_WR)
        except OSError:
            pass


@pytest.mark.parametrize("how", ["environment", "argument", "no_proxy"])
def test_https_goes_through_the_proxy_the_environment_or_the_app_names(
    tls_sink: TlsSink, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pki: dict[str, Path], how: str
) -> None:
    """A kiosk behind a corporate proxy: HTTPS_PROXY from the environment (as requests reads it) or
    Client(proxies=...) tunnels the upload through the proxy; NO_PROXY bypasses it."""
    proxy = ConnectProxy()
    monkeypatch.setenv("HTTPS_PROXY", proxy.url if how != "argument" else "http://127.0.0.1:9")
    if how == "no_proxy":
        monkeypatch.setenv("NO_PROXY", "localhost")
    options: dict[str, Any] = {"retry": FAST, "timeouts": QUICK, "power": None, "ca_bundle": pki["ca"]}
    if how == "argument":
        options["proxies"] = {"https": proxy.url}
    endpoint = f"https://localhost:{tls_sink.port}"
    try:
        with Client(
            [IntileryMobile("tls-key", endpoint=endpoint)], path=tmp_path / "q.db", **options
        ) as client:
            client.track("u", "E")
            assert client.flush(5) is True
    finally:
        proxy.close()
    assert len(tls_sink.requests) == 1
    assert proxy.targets == ([] if how == "no_proxy" else [f"localhost:{tls_sink.port}"])


@pytest.mark.slow
def test_a_custom_ca_bundle_is_trusted_and_host_names_are_still_checked(
    tls_sink: TlsSink, tmp_path: Path, pki: dict[str, Path]
) -> None:
    """HttpSender(verify=<CA bundle>) delivers to the CA's server by name; by IP (not in the
    certificate) the same CA still fails the host name check."""
    sender = lambda: HttpSender(verify=str(pki["ca"]))  # noqa: E731
    with _tls_client(tmp_path / "ip.db", f"https://127.0.0.1:{tls_sink.port}", sender) as client:
        client.track("u", "E")
        assert client.flush(1) is False
        error = client.stats().lanes["intilery_mobile"].last_error
    assert error is not None and "SSL" in error and tls_sink.requests == []
    with _tls_client(tmp_path / "name.db", f"https://localhost:{tls_sink.port}", sender) as client:
        client.track("u", "E")
        assert client.flush(5) is True
    assert len(tls_sink.requests) == 1


# -- keys and tokens never stored or logged ----------------------------------------------------------

SECRETS = {
    "write_key": "SECRET-mobile-write-key-5f0c1d",
    "intilery_token": "SECRET-intilery-token-9a7b3e",
    "parcelvoy_key": "pk_SECRET-parcelvoy-key-41d2aa",
    "encharge_key": "SECRET-encharge-write-key-77e0c4",
    "batch_api_key": "SECRET-batch-api-key-0b9e62",
    "batch_rest_key": "SECRET-batch-rest-key-c3a815",
    "segment_write_key": "SECRET-segment-write-key-2d6f90",
}
WRONG = {name: value.replace("SECRET-", "SECRET-WRONG-") for name, value in SECRETS.items()}


def vendors(endpoint: str, keys: dict[str, str], *, skip: tuple[str, ...] = ()) -> list[BaseDestination]:
    every: list[BaseDestination] = [
        IntileryMobile(keys["write_key"], endpoint=endpoint),
        IntileryEvents("acme", "acme", "ACME", keys["intilery_token"], endpoint=endpoint),
        Parcelvoy(keys["parcelvoy_key"], endpoint=endpoint),
        Encharge(keys["encharge_key"], endpoint=endpoint),
        BatchCom(keys["batch_api_key"], keys["batch_rest_key"], endpoint=endpoint),
        Segment(keys["segment_write_key"], endpoint=endpoint),
    ]
    return [d for d in every if d.name not in skip]


def every_call(client: Client) -> None:
    client.identify("u1", {"email": "ann@example.com"})
    client.track("u1", "Order Completed", {"revenue": 19.5})
    client.page("u1", name="Pricing")
    client.screen("u1", name="Menu")
    client.alias("anon-1", "u1")
    client.group("u1", "acme", {"name": "Acme"})
    client.register_device("u1", "device-1", "push-token")
    client.track(None, "Anonymous", anonymous_id="anon-2")


def forms(secret: str) -> list[bytes]:
    """The ways a key could be written: as is, and as HTTP Basic credentials."""
    basic = base64.b64encode(f"{secret}:".encode())
    return [secret.encode(), basic, basic.rstrip(b"=")]


def leaks(blob: bytes, secrets: dict[str, str]) -> list[str]:
    return sorted({name for name, secret in secrets.items() for form in forms(secret) if form in blob})


def folder_bytes(folder: Path) -> bytes:
    """Every file beside the queue (queue.db, -wal, -shm, anonymous_id), read raw."""
    return b"".join(p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file())


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger="edgetrack")
    return caplog


def everything_said(
    logs: pytest.LogCaptureFixture, failures: list[DeliveryFailure], clients: list[Client]
) -> bytes:
    """Log records (messages, arguments and tracebacks), on_error reports, stats, dead letters, reprs."""
    parts = [logs.text]
    parts += [f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in logs.records]
    parts += [repr(f) for f in failures]
    for client in clients:
        parts += [repr(client), repr(client.stats().as_dict()), repr(client.dead_letters())]
    return "\n".join(parts).encode("utf-8", "replace")


@pytest.mark.slow
def test_keys_never_reach_the_queue_file_or_the_logs(tmp_path: Path, logs: pytest.LogCaptureFixture) -> None:
    """Six vendors through success, auth failures, 5xx, resets, timeouts and refused connections
    (logging at DEBUG): no key, in any form, is in the queue's folder, the logs or on_error's reports."""
    folder = tmp_path / "queue"
    failures: list[DeliveryFailure] = []
    options: dict[str, Any] = {"retry": FAST, "timeouts": QUICK, "power": None, "on_error": failures.append}
    with Emulator(**SECRETS, segment_strict=True) as emu:  # type: ignore[arg-type]  # 401 for a wrong key
        with Client(vendors(emu.url, WRONG), path=folder / "queue.db", **options) as client:
            every_call(client)
            assert client.flush(5) is False  # every lane refused: 401 / 403 / 404 / 400 "writeKey"
            lanes = set(client.stats().lanes)
            seen = everything_said(logs, failures, [client])
            on_disk = folder_bytes(folder)
        assert {f.lane for f in failures if f.kind == "auth"} == lanes
        emu.fail_next(Fault(503, b"upstream trouble"), times=6)
        emu.fail_next(Fault(drop=True), times=6)
        emu.fail_next(Fault(200, delay=1.0), times=6)
        with Client(vendors(emu.url, SECRETS), path=folder / "queue.db", **options) as client:
            every_call(client)
            for _ in range(20):
                if client.flush(5):
                    break
            assert client.flush(5) is True
            seen += everything_said(logs, failures, [client])
            on_disk += folder_bytes(folder)
        assert len(emu.events("intilery_mobile")) == 14
        assert {"auth", "transient"} <= {f.kind for f in failures}
    with socket.socket() as probe:  # nothing listens here any more: connections are refused
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with Client(vendors(closed, SECRETS, skip=("batch_com",)), path=folder / "queue.db", **options) as client:
        every_call(client)
        assert client.flush(2) is False
        seen += everything_said(logs, failures, [client])
        on_disk += folder_bytes(folder)
    on_disk += folder_bytes(folder)
    assert "refused" in seen.decode().lower()
    assert leaks(on_disk, SECRETS | WRONG) == []
    assert leaks(seen, SECRETS | WRONG) == []


@pytest.mark.slow
def test_batch_com_api_key_is_not_stored_or_logged_when_the_connection_fails(
    tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    """A refused connection to Batch.com leaves neither key in last_error (the queue file) nor the logs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    keys = {"batch_api_key": SECRETS["batch_api_key"], "batch_rest_key": SECRETS["batch_rest_key"]}
    batch = BatchCom(keys["batch_api_key"], keys["batch_rest_key"], endpoint=closed)
    with Client([batch], path=tmp_path / "queue.db", retry=FAST, timeouts=QUICK, power=None) as client:
        client.track("u", "E")
        assert client.flush(2) is False
        seen = everything_said(logs, [], [client])
    assert (leaks(folder_bytes(tmp_path), keys), leaks(seen, keys)) == ([], [])


# -- the queue's files are owner-only ------------------------------------------------------------------


@pytest.fixture
def no_umask() -> Iterator[None]:
    """Run with umask 0, so only edgetrack's own modes keep the files private."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_the_queue_file_and_its_folder_are_created_owner_only(tmp_path: Path, no_umask: None) -> None:
    """Under umask 0: the folder is 0700; queue.db, its -wal and -shm and anonymous_id are 0600."""
    path = tmp_path / "new" / "folder" / "queue.db"
    with Client([], path=path, send=False, power=None, durable=True) as client:
        client.track(None, "Anonymous")  # makes the install-wide anonymous id file too
        files = sorted(p.name for p in path.parent.iterdir())
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir()}
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert {"queue.db", "queue.db-wal", "queue.db-shm", "anonymous_id"} <= set(files)
    assert all(mode & 0o077 == 0 for mode in modes.values()), modes


def test_the_default_queue_location_is_owner_only(
    tmp_path: Path, no_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The platformdirs location (``<data dir>/<app>/edgetrack/queue.db``) is made private too."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with Client([], app_name="secure-kiosk", send=False, power=None, durable=True) as client:
        client.track("u", "E")
        path = client.path
    assert path == tmp_path / "data" / "secure-kiosk" / "edgetrack" / "queue.db"
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert all(private(p) for p in path.parent.iterdir())


# -- nothing stored is unpickled or evaluated ----------------------------------------------------------


def test_the_package_has_no_pickle_eval_or_exec() -> None:
    """No module of edgetrack can unpickle or evaluate anything (a static scan of the source)."""
    banned = re.compile(
        r"\b(pickle|cPickle|marshal|shelve|dill|jsonpickle)\b|\b(eval|exec)\s*\(|yaml\.(unsafe_)?load\b"
    )
    found = [
        f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if banned.search(line)
    ]
    assert found == []


def test_stored_bodies_are_sent_as_text_never_evaluated(emulator: Emulator, tmp_path: Path) -> None:
    """Rows planted in the queue file (a pickle that would create a file, Python code in a JSON string)
    are treated as text: the code is delivered as a string, the pickle is refused and dead-lettered."""
    path = tmp_path / "queue.db"
    marker = tmp_path / "unpickled"
    code = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    destination = IntileryMobile(emulator.write_key, endpoint=emulator.url)
    with Client([destination], path=path, send=False, power=None, durable=True) as client:
        good = client.track("u", "Fine", {"code": code})[1]
    pickled = f"c__builtin__\nopen\n(S'{marker}'\nS'w'\ntR."
    planted = good | {"messageId": "planted-json", "properties": {"eval": code, "exec": code}}
    db = sqlite3.connect(path)
    with db:
        for message_id, body in [("planted-pickle", pickled), ("planted-json", _json(planted))]:
            db.execute(
                "INSERT INTO events (type, message_id, body, size, created) VALUES ('track', ?, ?, ?, ?)",
                (message_id, body, len(body), time.time()),
            )
    db.close()
    with Client([destination], path=path, retry=FAST, power=None) as client:
        assert client.flush(10) is False  # not every event was delivered: one was dead-lettered
        dead = client.dead_letters()
    assert not marker.exists()
    delivered = {e["messageId"]: e for e in emulator.events()}
    assert delivered[good["messageId"]]["properties"] == {"code": code}
    assert delivered["planted-json"]["properties"] == {"eval": code, "exec": code}
    assert [d.message_id for d in dead] == ["planted-pickle"]


def _json(value: object) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


# -- response bodies are read with a size bound ----------------------------------------------------------


class OneAnswer:
    """A loopback server that answers every request with the same raw bytes (written in pieces)."""

    def __init__(self, head: bytes, body: Callable[[], Iterator[bytes]]) -> None:
        self.sent: list[int] = []  # body bytes written, per connection

        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = self.request.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                owner.sent.append(0)
                try:
                    self.request.sendall(head)
                    for piece in body():
                        self.request.sendall(piece)
                        owner.sent[-1] += len(piece)
                except OSError:
                    pass

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/x"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _forty_megabytes() -> Iterator[bytes]:
    for _ in range(640):
        yield b"z" * 65536


def test_http_sender_reads_a_bounded_prefix_of_any_body() -> None:
    """40 MB answers: the default sender keeps 64 KiB, max_body=1000 keeps 1000 bytes, and a gzip
    bomb is inflated no further than the bound."""
    bomb = gzip.compress(bytes(64 * 1024 * 1024), 9)
    plain = OneAnswer(b"HTTP/1.1 500 Oops\r\nContent-Length: %d\r\n\r\n" % (640 * 65536), _forty_megabytes)
    bombing = OneAnswer(
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(bomb),
        lambda: iter([bomb]),
    )
    try:
        request = Request("POST", plain.url, {}, b"{}")
        for sender, bound in [(HttpSender(), 64 * 1024), (HttpSender(max_body=1000), 1000)]:
            response = sender.send(request, timeout=(2, 2))
            sender.close()
            assert response.status == 500 and 0 < len(response.body) <= bound
        sender = HttpSender()
        response = sender.send(Request("POST", bombing.url, {}, b"{}"), timeout=(2, 2))
        sender.close()
        assert response.status == 200 and len(response.body) <= 64 * 1024
    finally:
        plain.close()
        bombing.close()
    assert len(plain.sent) == 2 and max(plain.sent) < 20 * 1024 * 1024  # both hung up early


def test_what_the_server_said_is_stored_and_logged_cut_short(
    emulator: Emulator, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    """A 1 MB error page becomes at most ~500 characters in last_error, a dead letter and a log line."""
    page = b"<html>" + b"e" * 1_000_000 + b"</html>"
    emulator.fail_next(Fault(503, page))
    emulator.fail_next(Fault(400, page))
    destination = IntileryMobile(emulator.write_key, endpoint=emulator.url)
    with Client([destination], path=tmp_path / "q.db", retry=FAST, power=None) as client:
        client.track("u", "E")
        assert client.flush(1) is False
        error = client.stats().lanes["intilery_mobile"].last_error
        assert client.flush(5) is True
        [dead] = client.dead_letters()
    assert error is not None and len(error) <= 520
    assert len(dead.detail) <= 520
    assert max(len(r.getMessage()) for r in logs.records) <= 1_000


def test_client_ca_bundle_option_trusts_a_private_ca(
    tls_sink: TlsSink, tmp_path: Path, pki: dict[str, Path]
) -> None:
    """Client(ca_bundle=...) is the user-facing way to trust a private CA; verification stays on."""
    from edgetrack import Client, RetryPolicy

    dest = IntileryMobile("k", endpoint=f"https://localhost:{tls_sink.port}")
    retry = RetryPolicy(startup_jitter=0.0)
    with Client([dest], path=tmp_path / "q.db", ca_bundle=pki["ca"], power=None, retry=retry) as client:
        client.track("u", "E")
        assert client.flush(5) is True
    assert len(tls_sink.requests) == 1
