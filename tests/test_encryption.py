"""Encryption at rest (SQLCipher): no plaintext on disk, the right key reads the queue, a wrong or
missing key never loses or moves the file, and the CLI takes the key from EDGETRACK_KEY."""

from __future__ import annotations

import time
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from edgetrack import Client, ConfigError
from edgetrack.cli import main
from edgetrack.destinations import IntileryMobile
from edgetrack.emulator import Emulator
from edgetrack.store import SQLiteStore
from edgetrack.testing import FakeClock

pytest.importorskip("sqlcipher3")

KEY = "correct horse battery staple"
MARKER = "zq-cipher-marker-51d0"


def on_disk(path: Path) -> bytes:
    """The queue file and every file beside it that SQLite made (WAL, shared memory)."""
    return b"".join(p.read_bytes() for p in sorted(path.parent.glob(path.name + "*")))


def write_error(client: Client) -> str:
    """The client's last write error, once its writer has tried (a bounded wait, not a timing)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        error = client.stats().last_write_error
        if error:
            return error
        time.sleep(0.01)
    raise AssertionError("the writer never reported a write error")


def encrypted_queue(path: Path, clock: FakeClock, events: int = 3) -> None:
    with Client(path=path, send=False, clock=clock, encryption_key=KEY) as c:
        c.identify("u1", {"email": MARKER + "@example.com"})
        for i in range(events):
            assert c.track("u1", "Encrypted", {"marker": MARKER, "i": i})[0]
        c.pipeline.wait_committed(timeout=10)


def test_the_file_holds_no_plaintext_and_the_same_key_reads_it(emulator: Emulator, tmp_path: Path) -> None:
    """With encryption_key the marker is nowhere on disk; a new client with the key delivers it."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    with Client(path=path, send=False, clock=clock, encryption_key=KEY) as c:
        c.track("u1", "Encrypted", {"marker": MARKER})
        c.pipeline.wait_committed(timeout=10)
        assert MARKER.encode() not in on_disk(path)  # the WAL too, while it is open
    assert MARKER.encode() not in on_disk(path)
    assert not path.read_bytes().startswith(b"SQLite format 3")
    destination = IntileryMobile(emulator.write_key, endpoint=emulator.url)
    with Client([destination], path=path, clock=clock, encryption_key=KEY) as c:
        assert c.track("u1", "Second")[0]
        assert c.flush(10) is True
    sent = emulator.events("intilery_mobile")
    assert [e["event"] for e in sent] == ["Encrypted", "Second"]
    assert sent[0]["properties"] == {"marker": MARKER}


def test_the_remembered_identity_is_encrypted_too(tmp_path: Path) -> None:
    """The state table (user id, traits) is read back with the key and is not in plaintext."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    encrypted_queue(path, clock)
    assert MARKER.encode() not in on_disk(path)
    with Client(path=path, send=False, clock=clock, encryption_key=KEY) as c:
        assert c.user_id == "u1"
        assert c.traits == {"email": MARKER + "@example.com"}
        assert c.stats().events_on_disk == 4


@pytest.mark.parametrize("key", ["the wrong key", None])
def test_a_wrong_or_missing_key_keeps_calls_working_and_the_file_intact(
    tmp_path: Path, key: str | None
) -> None:
    """With a wrong key (or none) calls still return True, stats says it is the key, the file is
    not moved aside, and it opens with the right key afterwards with nothing lost."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    encrypted_queue(path, clock)
    before = path.read_bytes()
    c = Client(path=path, send=False, clock=clock, encryption_key=key, shutdown_timeout=0.2)
    try:
        ok, _ = c.track("u1", "Kept in memory")
        assert ok is True
        assert "key" in write_error(c).lower()
    finally:
        c.shutdown(timeout=0.2)
    assert [p.name for p in tmp_path.iterdir() if "corrupt" in p.name] == []  # not moved aside
    assert path.read_bytes() == before
    with Client(path=path, send=False, clock=clock, encryption_key=KEY) as c:
        assert c.stats().events_on_disk == 4
        assert c.user_id == "u1"


def test_an_empty_key_is_a_config_error(tmp_path: Path) -> None:
    """Client(encryption_key="") raises ConfigError."""
    with pytest.raises(ConfigError, match="encryption_key"):
        Client(path=tmp_path / "q.db", send=False, encryption_key="")


def test_cli_status_needs_edgetrack_key_for_an_encrypted_file(tmp_path: Path) -> None:
    """`edgetrack status` on an encrypted queue fails clearly without EDGETRACK_KEY, works with it."""
    path = tmp_path / "q.db"
    encrypted_queue(path, FakeClock())
    runner = CliRunner()
    refused = runner.invoke(main, ["status", "--db", str(path)], env={"EDGETRACK_KEY": None})
    assert refused.exit_code != 0
    assert "EDGETRACK_KEY" in refused.output
    assert refused.exception is None or isinstance(refused.exception, SystemExit)
    wrong = runner.invoke(main, ["status", "--db", str(path)], env={"EDGETRACK_KEY": "nope"})
    assert wrong.exit_code != 0
    assert "EDGETRACK_KEY" in wrong.output
    shown = runner.invoke(main, ["status", "--db", str(path)], env={"EDGETRACK_KEY": KEY})
    assert shown.exit_code == 0, shown.output
    assert "4 events queued" in shown.output
    assert [p.name for p in tmp_path.iterdir() if "corrupt" in p.name] == []


def test_an_encrypted_file_keeps_sqlciphers_page_size(tmp_path: Path) -> None:
    """A plain file has 1 KiB pages (less written to flash a commit); SQLCipher's page size is
    fixed with the key, so an encrypted file keeps SQLCipher's 4 KiB and opens again."""
    path = tmp_path / "q.db"
    encrypted_queue(path, FakeClock(), events=3)
    with closing(SQLiteStore.open(path, key=KEY)) as store:
        assert int(store.conn.execute("PRAGMA page_size").fetchone()[0]) == 4096
        assert [event.type for event in store.peek(None, limit=10)].count("track") == 3
    plain = tmp_path / "plain.db"
    with closing(SQLiteStore.open(plain)) as store:
        assert store.conn.execute("PRAGMA page_size").fetchone()[0] == 1024
