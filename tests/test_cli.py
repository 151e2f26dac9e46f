"""The operator CLI against real queue files and the emulator over loopback (no mocks)."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from edgetrack import Client
from edgetrack.cli import main
from edgetrack.destinations import IntileryMobile, Segment
from edgetrack.emulator import Emulator, Fault
from edgetrack.store import SQLiteStore
from tests.conftest import query

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, **env: str) -> Any:
    return CliRunner().invoke(main, list(args), env=env or None, catch_exceptions=False)


def commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, command in sorted(group.commands.items()):
        path = f"{prefix}{name}"
        yield path, command
        if isinstance(command, click.Group):
            yield from commands(command, path + " ")


def test_every_command_has_help_text_and_a_readme_entry() -> None:
    """Each command and subcommand has help text, `--help` works, and the README's CLI section
    documents it under a heading `edgetrack <command>`."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## The CLI", 1)[1].split("\n## ", 1)[0]
    found = list(commands(main))
    assert {"status", "flush", "peek", "tail", "export", "serve", "demo", "dead-letters list"} <= dict(
        found
    ).keys()
    for path, command in found:
        assert (command.help or "").strip(), f"`edgetrack {path}` has no help text"
        result = run(*path.split(), "--help")
        assert result.exit_code == 0 and "Usage:" in result.output, path
        assert re.search(rf"^#+ `edgetrack {re.escape(path)}[` ]", section, re.M), (
            f"README's CLI section has no heading for `edgetrack {path}`"
        )


def test_python_dash_m_runs_the_cli() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "edgetrack", "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "dead-letters" in out.stdout and "flush" in out.stdout


@pytest.fixture()
def emu() -> Iterator[Emulator]:
    with Emulator() as emulator:
        yield emulator


def fill(path: Path, emu: Emulator, n: int, **destination: Any) -> None:
    dests = [
        IntileryMobile(emu.write_key, endpoint=emu.url),
        Segment(emu.segment_write_key, endpoint=emu.url, **destination),
    ]
    with Client(dests, path=path, send=False) as client:
        for i in range(n):
            client.track(f"user-{i % 7}", "Product Added", {"i": i})


def config(folder: Path, emu: Emulator, path: Path, **segment: Any) -> Path:
    data = {
        "path": str(path),
        "destinations": [
            {"type": "IntileryMobile", "write_key": emu.write_key, "endpoint": emu.url},
            {"type": "Segment", "write_key": emu.segment_write_key, "endpoint": emu.url, **segment},
        ],
    }
    out = folder / "edgetrack.json"
    out.write_text(json.dumps(data))
    return out


def test_status_peek_tail_and_export_show_what_is_queued(tmp_path: Path, emu: Emulator) -> None:
    path = tmp_path / "q.db"
    fill(path, emu, 30)
    status = run("status", "--db", str(path))
    assert status.exit_code == 0, status.output
    assert "intilery_mobile: pending 30" in status.output and "segment: pending 30" in status.output
    assert "30 events queued" in status.output
    as_json = json.loads(run("status", "--db", str(path), "--json").output)
    assert as_json["path"] == str(path) and as_json["file_bytes"] > 0
    assert [lane["pending"] for lane in as_json["lanes"]] == [30, 30]

    peek = run("peek", "--db", str(path), "-n", "2", "--json").output.splitlines()
    assert [json.loads(line)["event"]["properties"]["i"] for line in peek] == [0, 1]
    tail = run("tail", "--db", str(path), "-n", "3").output.splitlines()
    assert [line.split()[0] for line in tail] == ["#28", "#29", "#30"]
    assert '"Product Added" user=user-1' in tail[-1]  # 29 % 7

    out = tmp_path / "backlog.jsonl"
    result = run("export", "--db", str(path), "--jsonl", "-o", str(out))
    assert result.exit_code == 0 and "exported 30 pending events" in result.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["event"]["properties"]["i"] for row in rows] == list(range(30))
    assert all(row["message_id"] == row["event"]["messageId"] for row in rows)
    array = json.loads(run("export", "--db", str(path), "--json").stdout)
    assert [row["id"] for row in array] == [row["id"] for row in rows]


def test_export_pages_through_a_large_backlog(tmp_path: Path, emu: Emulator) -> None:
    """More events than one page (1,000): every one exported once, in queue order."""
    path = tmp_path / "q.db"
    fill(path, emu, 2_345)
    result = run("export", "--db", str(path), "--lane", "segment")
    ids = [json.loads(line)["id"] for line in result.stdout.splitlines()]
    assert ids == sorted(set(ids)) and len(ids) == 2_345


def test_flush_sends_what_is_due_and_now_sends_everything(tmp_path: Path, emu: Emulator) -> None:
    path = tmp_path / "q.db"
    cfg = config(tmp_path, emu, path)
    fill(path, emu, 5)  # fewer than flush_at (20) and younger than 30 s: not due on mains
    due = run("flush", "--config", str(cfg))
    assert due.exit_code == 0, due.output
    assert "not due yet" in due.output and emu.events() == []
    now = run("flush", "--config", str(cfg), "--now")
    assert now.exit_code == 0, now.output
    assert "delivered 10, dead-lettered 0, pending 0" in now.output
    assert len(emu.events()) == 10
    fill(path, emu, 45)  # more than flush_at: due
    due = run("flush", "--config", str(cfg))
    assert due.exit_code == 0 and "pending 0" in due.output
    assert len(emu.events()) == 100


def test_flush_reports_a_failing_lane_and_exits_1(tmp_path: Path, emu: Emulator) -> None:
    path = tmp_path / "q.db"
    cfg = config(tmp_path, emu, path)
    fill(path, emu, 25)
    emu.fail_next(Fault(503), times=5, vendor="segment")
    result = run("flush", "--config", str(cfg), "--now")
    assert result.exit_code == 1
    assert "segment: 25 left: backing off until" in result.output
    assert len(emu.events("intilery_mobile")) == 25


def test_flush_needs_a_config_and_says_so(tmp_path: Path, emu: Emulator) -> None:
    path = tmp_path / "q.db"
    fill(path, emu, 1)
    result = run("flush", "--db", str(path))
    assert result.exit_code != 0 and "--config FILE" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"destinations": [{"type": "Segmant", "write_key": "k"}]}))
    result = run("flush", "--config", str(bad))
    assert result.exit_code != 0 and "type must be one of" in result.output and "Segmant" in result.output
    bad.write_text(json.dumps({"destinations": [{"type": "Segment", "write_key_env": "NO_SUCH_VARIABLE_X"}]}))
    result = run("flush", "--config", str(bad))
    assert "NO_SUCH_VARIABLE_X" in result.output and "not set" in result.output


def test_config_keys_can_come_from_the_environment(tmp_path: Path, emu: Emulator) -> None:
    path = tmp_path / "q.db"
    fill(path, emu, 3)
    cfg = tmp_path / "edgetrack.toml"
    cfg.write_text(
        f'path = "{path}"\n[[destinations]]\ntype = "Segment"\nwrite_key_env = "SEGMENT_KEY"\n'
        f'endpoint = "{emu.url}"\n'
    )
    if sys.version_info < (3, 11):
        cfg = cfg.with_suffix(".json")
        cfg.write_text(
            json.dumps(
                {
                    "path": str(path),
                    "destinations": [
                        {"type": "Segment", "write_key_env": "SEGMENT_KEY", "endpoint": emu.url}
                    ],
                }
            )
        )
    result = run("flush", "--now", "--config", str(cfg), SEGMENT_KEY=emu.segment_write_key)
    assert result.exit_code == 0, result.output
    assert len(emu.events("segment")) == 3


def test_ctrl_c_stops_a_flush_cleanly_and_loses_nothing(tmp_path: Path, emu: Emulator) -> None:
    """SIGINT during `flush --now` (each upload slowed to 0.3 s): exit 130 after the request in
    flight; every event is either delivered or still queued, and a second flush sends the rest."""
    path = tmp_path / "q.db"
    cfg = config(tmp_path, emu, path, max_events=10)
    fill(path, emu, 300)
    ok = Fault(200, body=b'{"success": true}', headers={"Content-Type": "application/json"}, delay=0.3)
    emu.fail_next(ok, times=1_000, vendor="segment")
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgetrack", "flush", "--now", "--config", str(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def segment_delivered() -> int:
        store = SQLiteStore.open(path)
        try:
            return store.counters().get("segment", {}).get(("delivered", ""), 0)
        finally:
            store.close()

    deadline = time.monotonic() + 30
    while segment_delivered() < 20 and time.monotonic() < deadline:
        time.sleep(0.05)  # the slow lane is mid-way (10 events an upload, 0.3 s each)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert "interrupted" in err and "nothing is lost" in err
    emu.clear_faults()
    store = SQLiteStore.open(path)
    try:
        lane = {s.name: s for s in store.lane_states(time.time())}["segment"]
        delivered = store.counters()["segment"][("delivered", "")]
    finally:
        store.close()
    assert 0 < delivered < 300 and lane.pending == 300 - delivered
    assert run("flush", "--now", "--config", str(cfg)).exit_code == 0
    assert len(emu.events("segment")) == 300 - delivered


def make_dead_letters(path: Path, emu: Emulator) -> None:
    emu.fail_next(Fault(400, body=b'{"error": "bad event"}'), times=1, vendor="segment")
    dests = [Segment(emu.segment_write_key, endpoint=emu.url, max_events=1)]
    with Client(dests, path=path, flush_at=1) as client:
        for i in range(3):
            client.track("u", "Bad" if i == 0 else "Good", {"i": i})
            client.flush(10)


def test_dead_letters_list_requeue_and_purge(tmp_path: Path, emu: Emulator) -> None:
    path = tmp_path / "q.db"
    make_dead_letters(path, emu)
    listed = run("dead-letters", "list", "--db", str(path))
    assert listed.exit_code == 0, listed.output
    assert "segment" in listed.output and '"Bad"' in listed.output and "bad event" in listed.output
    rows = [
        json.loads(line)
        for line in run("dead-letters", "list", "--db", str(path), "--json").output.splitlines()
    ]
    assert [row["event"]["event"] for row in rows] == ["Bad"]
    exported = run("export", "--db", str(path), "--dead").stdout.splitlines()
    assert [json.loads(line)["reason"] for line in exported] == [rows[0]["reason"]]

    refused = run("dead-letters", "requeue", "--db", str(path))
    assert refused.exit_code == 2 and "--all" in refused.output  # nothing selected: say how
    requeued = run("dead-letters", "requeue", "--db", str(path), "--id", str(rows[0]["id"]))
    assert "requeued 1 dead letter" in requeued.output
    assert "segment: pending 1" in run("status", "--db", str(path)).output
    cfg = tmp_path / "c.json"
    cfg.write_text(
        json.dumps(
            {
                "path": str(path),
                "destinations": [
                    {"type": "Segment", "write_key": emu.segment_write_key, "endpoint": emu.url}
                ],
            }
        )
    )
    assert run("flush", "--now", "--config", str(cfg)).exit_code == 0
    assert [e["event"] for e in emu.events("segment")] == ["Good", "Good", "Bad"]

    make_dead_letters(path, emu)
    purged = run("dead-letters", "purge", "--db", str(path), "--all", "--yes")
    assert "purged 1 dead letter" in purged.output
    assert "no dead letters" in run("dead-letters", "list", "--db", str(path)).output


def test_missing_corrupt_foreign_and_locked_files_are_clear_errors(tmp_path: Path, emu: Emulator) -> None:
    missing = run("peek", "--db", str(tmp_path / "nope.db"))
    assert missing.exit_code == 1 and "no queue file" in missing.output and "--db" in missing.output
    assert not (tmp_path / "nope.db").exists()

    corrupt = tmp_path / "corrupt.db"
    garbage = b"this is not a database " * 100
    corrupt.write_bytes(garbage)
    result = run("status", "--db", str(corrupt))
    assert (
        result.exit_code == 1 and "corrupt" in result.output and "moves a corrupt file aside" in result.output
    )
    assert corrupt.read_bytes() == garbage and sorted(p.name for p in tmp_path.iterdir()) == ["corrupt.db"]

    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE notes (x)")
    conn.commit()
    conn.close()
    result = run("dead-letters", "purge", "--db", str(foreign), "--all", "--yes")
    assert result.exit_code == 1 and "not an edgetrack queue file" in result.output
    tables = query(foreign, "SELECT name FROM sqlite_master")
    assert tables == [("notes",)]  # nothing created in somebody else's file

    path = tmp_path / "q.db"
    fill(path, emu, 4)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("UPDATE meta SET value = value WHERE key = 'schema_version'")
    holder.execute("COMMIT")  # exclusive locking mode keeps the lock after the commit
    try:
        result = run("status", "--db", str(path), "--wait", "0.2")
        assert result.exit_code == 1 and "locked by another process" in result.output
        assert "--wait" in result.output
    finally:
        holder.close()
    assert "segment: pending 4" in run("status", "--db", str(path)).output  # intact once released


def test_status_is_safe_while_an_app_is_tracking(tmp_path: Path, emu: Emulator) -> None:
    """A second process reads the queue while this one keeps writing: no error, no lock-up."""
    path = tmp_path / "q.db"
    with Client([Segment(emu.segment_write_key, endpoint=emu.url)], path=path, send=False) as client:
        client.track("u", "E")
        client.flush(0)
        env = {**os.environ, "EDGETRACK_DB": str(path)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "edgetrack", "status", "--json"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in range(2_000):
            client.track("u", "E", {"i": i})
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert json.loads(out)["lanes"][0]["name"] == "segment"


def test_config_file_client_options_build_the_client(tmp_path: Path, emu: Emulator) -> None:
    """`[client]` options reach the Client that `ConfigFile.client()` builds; unknown ones are refused."""
    from edgetrack.configfile import load_config
    from edgetrack.errors import ConfigError

    cfg = tmp_path / "c.json"
    data: dict[str, Any] = {
        "path": str(tmp_path / "q.db"),
        "destinations": [{"type": "Segment", "write_key": emu.segment_write_key, "endpoint": emu.url}],
        "client": {"durable": True, "flush_at": 3},
    }
    cfg.write_text(json.dumps(data))
    with load_config(cfg).client() as client:
        assert client.durable and client.policy.flush_at == 3 and client.path == tmp_path / "q.db"
        for i in range(3):
            client.track("u", "E", {"i": i})
        assert client.flush(10)
    assert len(emu.events("segment")) == 3
    data["client"] = {"durable": True, "retry": 3}
    cfg.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match=r"\[client\] takes .* not \['retry'\]"):
        load_config(cfg)


def test_a_queue_path_with_uri_characters_opens(tmp_path: Path, emu: Emulator) -> None:
    """Spaces, '#' and '?' in the folder name: the read-only check must not read them as URI syntax."""
    path = tmp_path / "kiosk data #1?" / "q.db"
    fill(path, emu, 2)
    result = run("status", "--db", str(path))
    assert result.exit_code == 0, result.output
    assert "segment: pending 2" in result.output


def test_looking_at_the_queue_needs_no_keys(tmp_path: Path, emu: Emulator) -> None:
    """status, peek, tail, export and dead-letters list work with a config file whose keys are not
    in the environment (an operator on SSH has no secrets); only flush needs them."""
    path = tmp_path / "q.db"
    fill(path, emu, 4)
    cfg = tmp_path / "edgetrack.json"
    cfg.write_text(
        json.dumps(
            {
                "path": str(path),
                "destinations": [
                    {"type": "IntileryMobile", "write_key_env": "NOT_SET_HERE_1", "endpoint": emu.url},
                    {"type": "Segment", "write_key_env": "NOT_SET_HERE_2", "endpoint": emu.url},
                ],
            }
        )
    )
    for command in (["status"], ["peek"], ["tail"], ["export"], ["dead-letters", "list"], ["lanes", "list"]):
        result = run(*command, "--config", str(cfg))
        assert result.exit_code == 0, (command, result.output)
    status = run("status", "--config", str(cfg), "--json")
    assert {lane["name"]: lane["orphan"] for lane in json.loads(status.output)["lanes"]} == {
        "intilery_mobile": False,
        "segment": False,
    }
    flush = run("flush", "--config", str(cfg))
    assert flush.exit_code != 0 and "NOT_SET_HERE_1" in flush.output


def test_unknown_names_and_clashing_flags_are_errors(tmp_path: Path, emu: Emulator) -> None:
    """An unknown --lane or --id is an error listing what there is; --jsonl with --json is refused;
    purge with nothing selected says so without asking."""
    path = tmp_path / "q.db"
    fill(path, emu, 5)
    peek = run("peek", "--db", str(path), "--lane", "bogus")
    assert peek.exit_code == 2 and "intilery_mobile, segment" in peek.output
    requeue = run("dead-letters", "requeue", "--db", str(path), "--id", "99")
    assert requeue.exit_code == 2 and "no dead letter with id 99" in requeue.output
    both = run("export", "--db", str(path), "--jsonl", "--json")
    assert both.exit_code == 2 and "exclude each other" in both.output
    purge = CliRunner().invoke(main, ["dead-letters", "purge", "--db", str(path), "--all"], input="")
    assert purge.exit_code == 0 and "nothing to purge" in purge.output


@pytest.mark.slow
def test_flush_timeout_bounds_a_request_in_flight(tmp_path: Path, emu: Emulator) -> None:
    """flush --timeout 1 against a server that hangs for 30 s returns at the deadline (before:
    25 s), exits 1 (not 130: nobody interrupted it), and calls the claim it left its own."""
    path = tmp_path / "q.db"
    cfg = config(tmp_path, emu, path)
    fill(path, emu, 3)
    emu.fail_next(Fault(200, delay=30), times=10, vendor="segment")
    result = subprocess.run(
        [sys.executable, "-m", "edgetrack", "flush", "--now", "--timeout", "1", "--config", str(cfg)],
        capture_output=True,
        text=True,
        timeout=20,  # a hang past this fails the test
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "timed out" in result.stderr
    assert "left in flight by this flush" in result.stdout and "another process" not in result.stdout


def test_flush_says_what_it_counts_and_when_everything_backs_off(tmp_path: Path, emu: Emulator) -> None:
    """The header counts events, not event-lane pairs, naming only lanes with work; when every
    lane is backing off, flush says until when and that --now sends anyway."""
    path = tmp_path / "q.db"
    cfg = config(tmp_path, emu, path)
    fill(path, emu, 6)  # six events, each pending for both lanes
    emu.fail_next(Fault(503), times=4)
    first = run("flush", "--config", str(cfg), "--now")
    assert "6 events pending for intilery_mobile, segment" in first.output
    again = run("flush", "--config", str(cfg))
    assert "every lane with events is backing off" in again.output and "--now sends anyway" in again.output


def test_serve_reports_bad_addresses_in_one_line(tmp_path: Path) -> None:
    """A port in use, a host that is not loopback and a port out of range are one-line errors."""
    with Emulator() as busy:
        in_use = run("serve", "--port", str(busy.port))
    assert in_use.exit_code == 1 and "already in use" in in_use.output and "Traceback" not in in_use.output
    public = run("serve", "--host", "0.0.0.0")
    assert public.exit_code == 2 and "loopback" in public.output
    wrong = run("serve", "--port", "70000")
    assert wrong.exit_code == 2 and "70000" in wrong.output
