"""Identity: the remembered user id, anonymous id and traits (identify, alias, reset), kept in
the queue file's ``state`` table across clients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import edgetrack
from edgetrack import Client
from edgetrack.testing import FakeClock
from tests.conftest import query


def queued(path: Path) -> list[dict[str, Any]]:
    """Every event body in the queue file, oldest first."""
    return [json.loads(body) for (body,) in query(path, "SELECT body FROM queue ORDER BY id")]


def tracked(path: Path, event: str) -> dict[str, Any]:
    """The one queued track event named ``event``."""
    found = [m for m in queued(path) if m.get("event") == event]
    assert len(found) == 1, found
    return found[0]


def client(path: Path, clock: FakeClock | None = None) -> Client:
    return Client(path=path, send=False, clock=clock or FakeClock())


def test_a_call_without_ids_gets_the_remembered_user_and_traits(tmp_path: Path) -> None:
    """After identify(), a call naming no id carries the user id, the anonymous id and context.traits."""
    path = tmp_path / "q.db"
    with client(path) as c:
        assert c.identify("u1", {"name": "Ada", "plan": "pro"})[0]
        assert c.track(event="Opened")[0]
        anonymous_id = c.anonymous_id
        c.pipeline.wait_committed(timeout=10)
        msg = tracked(path, "Opened")
    assert msg["userId"] == "u1"
    assert msg["anonymousId"] == anonymous_id
    assert msg["context"]["traits"] == {"name": "Ada", "plan": "pro"}


def test_traits_merge_for_the_same_user_and_start_afresh_for_another(tmp_path: Path) -> None:
    """identify() merges traits for the same user id; a different user id drops the old traits."""
    with client(tmp_path / "q.db") as c:
        c.identify("u1", {"name": "Ada", "plan": "free"})
        c.identify("u1", {"plan": "pro"})
        assert c.user_id == "u1"
        assert c.traits == {"name": "Ada", "plan": "pro"}
        c.identify(traits={"city": "Paris"})  # no id: the remembered user's traits grow
        assert c.user_id == "u1"
        assert c.traits == {"name": "Ada", "plan": "pro", "city": "Paris"}
        c.identify("u2", {"name": "Bob"})
        assert c.user_id == "u2"
        assert c.traits == {"name": "Bob"}


def test_the_properties_are_read_only_copies(tmp_path: Path) -> None:
    """Changing the dict client.traits returns does not change what the client remembers."""
    with client(tmp_path / "q.db") as c:
        c.identify("u1", {"name": "Ada"})
        c.traits["name"] = "Mallory"
        c.traits.clear()
        assert c.traits == {"name": "Ada"}


def test_identity_survives_a_new_client_on_the_same_file(tmp_path: Path) -> None:
    """A new Client on the same queue file knows the user, anonymous id and traits of the last one."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    with client(path, clock) as first:
        first.identify("u1", {"name": "Ada"})
        anonymous_id = first.anonymous_id
    with client(path, clock) as second:
        assert second.user_id == "u1"
        assert second.anonymous_id == anonymous_id
        assert second.traits == {"name": "Ada"}
        second.track(event="Again")
        second.pipeline.wait_committed(timeout=10)
    msg = tracked(path, "Again")
    assert (msg["userId"], msg["anonymousId"]) == ("u1", anonymous_id)
    assert msg["context"]["traits"] == {"name": "Ada"}


def test_an_explicit_id_wins_and_carries_no_remembered_traits(tmp_path: Path) -> None:
    """A call naming its own user id (or anonymous id) keeps it, with no remembered ids or traits."""
    path = tmp_path / "q.db"
    with client(path) as c:
        c.identify("u1", {"name": "Ada"})
        ok, returned = c.track("other", "Explicit user")
        assert ok and isinstance(returned, dict)
        c.track(event="Explicit anon", anonymous_id="anon-7")
        c.pipeline.wait_committed(timeout=10)
    explicit = tracked(path, "Explicit user")
    assert explicit["userId"] == "other"
    assert "anonymousId" not in explicit
    assert "traits" not in explicit["context"]
    assert returned["userId"] == "other" and returned.get("anonymousId") is None
    anon = tracked(path, "Explicit anon")
    assert anon["anonymousId"] == "anon-7"
    assert "userId" not in anon
    assert "traits" not in anon["context"]


def test_reset_forgets_the_user_and_changes_the_anonymous_id(tmp_path: Path) -> None:
    """reset() forgets user and traits, makes a new anonymous id; queued events keep their ids."""
    path = tmp_path / "q.db"
    with client(path) as c:
        c.identify("u1", {"name": "Ada"})
        c.track(event="Before")
        before = c.anonymous_id
        c.reset()
        assert c.user_id is None
        assert c.traits == {}
        assert c.anonymous_id != before
        c.track(event="After")
        c.pipeline.wait_committed(timeout=10)
        after = c.anonymous_id
    old = tracked(path, "Before")
    assert (old["userId"], old["anonymousId"]) == ("u1", before)
    new = tracked(path, "After")
    assert "userId" not in new
    assert new["anonymousId"] == after
    assert "traits" not in new["context"]
    with client(path) as again:  # what reset() forgot stays forgotten
        assert again.user_id is None
        assert again.anonymous_id == after


def test_reset_can_keep_the_anonymous_id(tmp_path: Path) -> None:
    """reset(keep_anonymous_id=True) forgets the user but keeps the anonymous id."""
    with client(tmp_path / "q.db") as c:
        c.identify("u1", {"name": "Ada"})
        anonymous_id = c.anonymous_id
        c.reset(keep_anonymous_id=True)
        assert c.user_id is None
        assert c.traits == {}
        assert c.anonymous_id == anonymous_id


def test_reset_starts_a_new_session(tmp_path: Path) -> None:
    """After reset() the next event is the first of a new session."""
    path = tmp_path / "q.db"
    clock = FakeClock()
    with client(path, clock) as c:
        c.track(event="One")
        first = c.session_id
        clock.advance(1)
        c.reset()
        c.track(event="Two")
        c.pipeline.wait_committed(timeout=10)
        assert c.session_id != first
    two = tracked(path, "Two")
    assert two["context"]["sessionId"] == c.session_id
    assert two["context"]["sessionStart"] is True


def test_module_level_reset_resets_the_default_client(tmp_path: Path) -> None:
    """edgetrack.reset() forgets the default client's user."""
    c = edgetrack.configure(path=tmp_path / "q.db", send=False, clock=FakeClock())
    try:
        edgetrack.identify("u1", {"name": "Ada"})
        anonymous_id = c.anonymous_id
        assert c.user_id == "u1"
        edgetrack.reset()
        assert c.user_id is None
        assert c.traits == {}
        assert c.anonymous_id != anonymous_id
        edgetrack.reset(keep_anonymous_id=True)
        assert c.anonymous_id != anonymous_id
    finally:
        edgetrack.shutdown()


def test_alias_from_the_remembered_id_makes_the_new_user_remembered(tmp_path: Path) -> None:
    """alias(previous, new) from the remembered anonymous id (or user id) makes new the user."""
    path = tmp_path / "q.db"
    with client(path) as c:
        c.alias(c.anonymous_id, "u1")
        assert c.user_id == "u1"
        c.alias("u1", "u2")
        assert c.user_id == "u2"
        c.alias("somebody-else", "u3")  # not who this client remembers: nothing changes
        assert c.user_id == "u2"
        c.track(event="After alias")
        c.pipeline.wait_committed(timeout=10)
    assert tracked(path, "After alias")["userId"] == "u2"
    with client(path) as again:
        assert again.user_id == "u2"


def test_an_identify_with_no_traits_keeps_the_event_shape(tmp_path: Path) -> None:
    """identify(user) with no traits queues an identify with empty traits and remembers the user."""
    path = tmp_path / "q.db"
    with client(path) as c:
        assert c.identify("u1")[0]
        c.pipeline.wait_committed(timeout=10)
        assert c.user_id == "u1"
        assert c.traits == {}
    (identify,) = [m for m in queued(path) if m["type"] == "identify"]
    assert identify["userId"] == "u1"
    assert identify["traits"] == {}


def test_anonymous_ids_are_random_version_4_uuids(tmp_path: Path) -> None:
    """Made without the uuid module (it costs a new app's first commit milliseconds), in its form."""
    import uuid

    with Client(path=tmp_path / "q.db", send=False, track_lifecycle=False) as client:
        first = client.anonymous_id
        client.reset()
        second = client.anonymous_id
    assert first != second
    for text in (first, second):
        assert text is not None
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text
