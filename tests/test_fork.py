"""fork() while the parent is committing: the child's queue works, every time.

A child forked while another thread was inside SQLite used to hang for good (in ``connect``,
``BEGIN IMMEDIATE``, or on "database is locked"), in 1-5 of 60 children. Here the parent
commits continuously from a second thread while the test forks ``EDGETRACK_FORKS`` children
(default 200); each child tracks a durable event and reports whether it was committed.
"""

from __future__ import annotations

import os
import select
import signal
import threading
import time
from pathlib import Path

import pytest

from edgetrack import Client
from tests.conftest import query

pytestmark = pytest.mark.slow  # hundreds of forks

FORKS = int(os.environ.get("EDGETRACK_FORKS", "200"))
CHILD_BOUND = 20.0  # a child that has not answered by then is hung (a healthy one takes ms)


def _child(client: Client, write_fd: int) -> None:
    try:
        ok, reason = client.track("child", "Forked", {"pid": os.getpid()})
        os.write(write_fd, b"1" if ok else b"0" + str(reason).encode()[:300])
    except BaseException as exc:
        os.write(write_fd, b"E" + repr(exc).encode()[:300])
    finally:
        os._exit(0)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # 3.12+ warns about fork with threads
def test_fork_during_commits_never_leaves_a_child_hung(tmp_path: Path) -> None:
    """Hundreds of forks while the parent commits: every child commits its own durable event."""
    path = tmp_path / "queue.db"
    parent = Client(path=path, send=False)
    child_client = Client(path=path, send=False, durable=True)  # the one the children use
    stop = threading.Event()

    def commit_forever() -> None:
        i = 0
        while not stop.is_set():
            parent.track("parent", "Busy", {"i": i})
            i += 1
            if i % 20 == 0:  # a commit about every millisecond, leaving the children a turn
                parent.pipeline.wait_committed(timeout=5)
                time.sleep(0.0005)

    busy = threading.Thread(target=commit_forever)
    busy.start()
    hung, refused = 0, 0
    reasons: list[str] = []
    try:
        for _ in range(FORKS):
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                _child(child_client, write_fd)
            os.close(write_fd)
            ready, _, _ = select.select([read_fd], [], [], CHILD_BOUND)
            answer = os.read(read_fd, 400) if ready else b""
            os.close(read_fd)
            if not answer:
                hung += 1
                os.kill(pid, signal.SIGKILL)
            elif answer != b"1":
                refused += 1
                reasons.append(answer[1:].decode(errors="replace"))
            os.waitpid(pid, 0)
    finally:
        stop.set()
        busy.join()
        parent.shutdown()
        child_client.shutdown()
    children_events = query(path, "SELECT count(*) FROM queue WHERE body LIKE '%Forked%'")[0][0]
    print(f"\n{FORKS} forks during commits: {hung} hung, {refused} refused, {children_events} committed")
    assert hung == 0 and refused == 0, reasons[:3]
    assert children_events == FORKS


def test_the_fork_gate_waits_for_threads_inside_sqlite() -> None:
    """While a thread is inside the gate, the before-fork hook waits for it to leave."""
    from edgetrack.store import _forksafe as forksafe

    inside = threading.Event()
    leave = threading.Event()
    order: list[str] = []

    def hold() -> None:
        with forksafe.inside():
            inside.set()
            leave.wait(10)
            order.append("left")

    thread = threading.Thread(target=hold)
    thread.start()
    inside.wait(10)
    threading.Timer(0.2, leave.set).start()
    forksafe.before_fork()
    order.append("forking")
    forksafe.after_in_parent()
    thread.join()
    assert order == ["left", "forking"]
