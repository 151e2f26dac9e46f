"""One lane's delivery, in small steps: triage a claim -> send it (splitting, bisecting) ->
settle what was done -> record a failure.

``LaneDelivery`` is built once per lane with everything that never changes (destination,
sender, owner, retry policy, rng, timeouts, throttle, limits); ``deliver(store, claim, state)``
runs the steps for one request's worth of a claim. The lane's failure count and pause live in
the queue file, never here. Everything the lane logs or reports happens in ``_report`` and
``_recovered``: one WARNING (and one ``on_error`` call) per failure episode, one INFO when it
ends, in the shape of sentry-python's ``_send_request`` -> ``_handle_response``.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, cast

from edgetrack.envelope._builder import iso_utc_from_epoch
from edgetrack.models import Outcome, OutcomeKind, QueuedEvent, Response
from edgetrack.protocols import Destination, Sender
from edgetrack.retry import Decision, RetryPolicy
from edgetrack.store._delivering import Claim, Dead, Settled
from edgetrack.store._protocol import QueueStore
from edgetrack.store._reading import LaneState
from edgetrack.store._timeline import Timeline

__all__ = ["DeliveryFailure", "FailureKind", "LaneDelivery"]

log = logging.getLogger(__name__)

_INTEGRATIONS = '"integrations":'  # in a body only when the call gave some: the fast test
MAX_REQUESTS_PER_BATCH = 40  # bisecting 100 events around one bad one takes about 14

#: What went wrong: an ``OutcomeKind`` value other than "ack", or an event dead-lettered.
FailureKind = Literal["rate_limited", "too_large", "rejected", "auth", "config", "transient", "dead_lettered"]


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """What ``on_error`` receives: which lane, what went wrong, and what happens next."""

    lane: str
    kind: FailureKind
    status: int
    detail: str
    events: int
    retry_in: float


@dataclass(slots=True)
class _Triage:
    """A claim sorted out: the part this request covers, what to send, what is settled already."""

    part: Claim
    sending: list[QueuedEvent]
    settled: list[Settled] = field(default_factory=list)
    dead: list[Dead] = field(default_factory=list)


@dataclass(slots=True)
class _Sent:
    """What the requests for one batch achieved: a settled prefix, and the failure that ended it."""

    done: int = 0
    settled: list[Settled] = field(default_factory=list)
    dead: list[Dead] = field(default_factory=list)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    failure: tuple[Response, Outcome] | None = None


class LaneDelivery:
    """Delivers one lane's claims to its destination."""

    def __init__(
        self,
        destination: Destination,
        sender: Callable[[], Sender],
        *,
        owner: str,
        retry: RetryPolicy,
        rng: random.Random,
        timeout: tuple[float, float],
        throttle: Callable[[], bool] | None = None,
        max_dead_letters: int = 1000,
        on_error: Callable[[DeliveryFailure], None] | None = None,
    ) -> None:
        self.destination = destination
        self.lane = destination.name
        self._sender = sender
        self.owner = owner
        self._retry = retry
        self._rng = rng
        self._timeout = timeout
        self._throttle = throttle
        self._max_dead_letters = max_dead_letters
        self._on_error = on_error
        self._episode: str | None = None  # the failure kind being reported, until a success
        self._names = (type(destination).__name__.lower(), self.lane.lower())  # for integrations

    def deliver(self, store: QueueStore, claim: Claim, state: LaneState) -> bool:
        """Deliver the first request's worth of ``claim``; True when the lane may go on.

        Events the destination cannot take (unsupported call, too old, no usable id) are
        counted, or dead-lettered with their reason, and never block the events after them.
        """
        triage = self._triage(claim, store.timeline)
        if not triage.sending:
            self._settle(store, triage.part, triage.settled, triage.dead)
            return True
        sending = triage.sending
        if state.server_failures >= self._retry.max_attempts // 2:
            # The server has failed on this batch for long: probe with the head event alone, so
            # a poison event is isolated (and at max_attempts dead-lettered) while an outage
            # costs at most one event per max_attempts failures.
            sending = sending[:1]
        sent = self._send(sending, state.server_failures, store.timeline)
        if sent.done:
            last = sending[sent.done - 1]
            cut = (
                len(triage.part.events)
                if sent.done == len(triage.sending)
                else triage.part.events.index(last) + 1
            )
            done = Claim(claim.lane, triage.part.events[:cut], triage.part.events[cut - 1].id)
            kept = {event.id for event in done.events}
            self._settle(
                store,
                done,
                [s for s in triage.settled if s[0].id in kept] + sent.settled,
                [d for d in triage.dead + sent.dead if d[0].id in kept],
                sent.counts,
            )
        if sent.failure is None:
            return True
        self._record_failure(store, sent.failure, state, len(sending) - sent.done)
        return False

    # -- triage ----------------------------------------------------------------------------

    def _triage(self, claim: Claim, timeline: Timeline) -> _Triage:
        """Correct timestamps taken from a wrong wall clock, sort out the events this lane will
        never send, and cut the claim where the destination's batch ends."""
        now, offset = timeline.now(), timeline.wall_offset()
        wall_now = now + offset
        events = [_corrected(event, timeline, offset) for event in claim.events]
        verdicts = [self._verdict(event, now, wall_now) for event in events]
        if self.destination.plugins:
            for index, verdict in enumerate(verdicts):
                if verdict is None:
                    events[index], verdicts[index] = self._plugged(events[index])
        candidates = [event for event, verdict in zip(events, verdicts, strict=True) if verdict is None]
        cut = len(events)
        sending: list[QueuedEvent] = []
        if candidates:
            take = max(1, min(len(candidates), self.destination.batch(candidates)))
            sending = candidates[:take]
            if take < len(candidates):
                cut = events.index(sending[-1]) + 1
        triage = _Triage(Claim(claim.lane, events[:cut], events[cut - 1].id), sending)
        for event, verdict in zip(events[:cut], verdicts, strict=False):
            if verdict is None:
                continue
            kind, reason = verdict
            triage.settled.append((event, "skipped" if kind == "skipped" else "dead", reason))
            if kind != "skipped":
                triage.dead.append((event, reason, kind))
        return triage

    def _verdict(self, event: QueuedEvent, now: float, wall_now: float) -> tuple[str, str] | None:
        if event.type not in self.destination.supports:
            return ("skipped", event.type)
        if _INTEGRATIONS in event.body and not self._routed(event):
            return ("skipped", "integrations")
        if now - event.created > self._retry.max_age:
            return ("expired", "max_age")
        try:
            return self.destination.check(event, wall_now)
        except Exception as exc:  # the destination cannot map it: dead-letter it alone
            log.warning(
                "edgetrack: %s cannot map event %s (%s); dead-lettered", self.lane, event.message_id, exc
            )
            return ("dead", f"unmappable: {type(exc).__name__}")

    def _routed(self, event: QueuedEvent) -> bool:
        """Whether the event's ``integrations`` let it go to this lane, the Segment way:
        ``{"All": False, "Parcelvoy": True}`` sends to Parcelvoy only, ``{"Parcelvoy": False}``
        to every lane but Parcelvoy. A lane answers to its class's name and its ``name=``."""
        try:
            integrations = json.loads(event.body).get("integrations")
        except (ValueError, AttributeError):
            return True
        if not isinstance(integrations, dict):
            return True
        given = {str(key).lower(): value for key, value in integrations.items()}
        for name in self._names:
            if name in given:
                return bool(given[name])
        return bool(given.get("all", True))

    def _plugged(self, event: QueuedEvent) -> tuple[QueuedEvent, tuple[str, str] | None]:
        """The event through the destination's plugins: changed for this lane, or skipped."""
        plugins = self.destination.plugins
        found, dropped_by = plugins.run(json.loads(event.body), lambda: json.loads(event.body))
        if found is None:
            return event, ("skipped", f"plugin:{dropped_by}")
        try:
            body = json.dumps(found, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            plugins.failed("plugins", f"made an event that is not JSON ({exc})")
            return event, None
        return event._replace(body=body), None

    # -- sending ---------------------------------------------------------------------------

    def _send(self, sending: list[QueuedEvent], server_failures: int, timeline: Timeline) -> _Sent:
        """Send the batch; a 413 / 400 / 422 on several events splits it in halves (in order),
        so a bad or oversized event is isolated in a handful of requests and dead-lettered
        alone. Halves are settled left to right, so what is settled is always a prefix."""
        sent = _Sent()
        stack = [(0, len(sending))]
        requests = 0
        while stack:
            if requests >= MAX_REQUESTS_PER_BATCH or (self._throttle is not None and not self._throttle()):
                break  # settle what is done; the lane's next claim goes on from there
            lo, hi = stack.pop()
            chunk = sending[lo:hi]
            response, outcome = self._attempt(chunk, timeline.clock.now())
            requests += 1
            if outcome.kind is OutcomeKind.ACK:
                sent.settled += [(event, "delivered", "") for event in chunk]
            elif outcome.kind in (OutcomeKind.REJECTED, OutcomeKind.TOO_LARGE) and len(chunk) > 1:
                middle = (lo + hi) // 2
                stack += [(middle, hi), (lo, middle)]
                sent.counts[("split", outcome.kind.value)] += 1
                continue
            elif outcome.kind in (OutcomeKind.REJECTED, OutcomeKind.TOO_LARGE):
                self._dead_letter(sent, chunk[0], outcome.kind.value, response, outcome)
            elif self._gives_up(chunk, response, outcome, server_failures):
                self._dead_letter(sent, chunk[0], "max_attempts", response, outcome)
            else:
                sent.failure = (response, outcome)
                break
            sent.done = hi
        return sent

    def _gives_up(
        self, chunk: list[QueuedEvent], response: Response, outcome: Outcome, failures: int
    ) -> bool:
        """The server failed on this one event max_attempts times in a row: give up on it."""
        return (
            len(chunk) == 1 and _server_fault(response, outcome) and failures + 1 >= self._retry.max_attempts
        )

    def _dead_letter(
        self, sent: _Sent, event: QueuedEvent, reason: str, response: Response, outcome: Outcome
    ) -> None:
        sent.dead.append((event, reason, describe(response, outcome)[:500]))
        sent.settled.append((event, "dead", reason))
        self._report(DeliveryFailure(self.lane, "dead_lettered", response.status, outcome.detail, 1, 0.0))

    def _attempt(self, events: list[QueuedEvent], wall_now: float) -> tuple[Response, Outcome]:
        destination = self.destination
        try:
            request = destination.encode(events, sent_at=iso_utc_from_epoch(wall_now))
        except Exception as exc:  # an event the destination cannot map: isolate it like a refused one
            log.warning("edgetrack: %s could not encode a batch: %s: %s", self.lane, type(exc).__name__, exc)
            response = Response(0, error=f"encode failed: {type(exc).__name__}: {exc}")
            return response, Outcome(OutcomeKind.REJECTED, response.error or "")
        if len(events) > 1 and len(request.body) > destination.limits.max_bytes:
            # The vendor's own body (after mapping) would be over its limit: split before sending.
            return Response(0, error="body over the vendor's limit"), Outcome(
                OutcomeKind.TOO_LARGE, "pre-send"
            )
        for step in (*request.before, request):  # what must go first stops the rest if it fails
            response = self._sender().send(step, timeout=self._timeout)
            outcome = destination.interpret(response)
            if outcome.kind is not OutcomeKind.ACK:
                request = step
                break
        if outcome.detail:  # a server may echo the URL, and some vendors put a key in it
            outcome = Outcome(outcome.kind, destination.redact(outcome.detail), outcome.retry_after)
        if outcome.kind is OutcomeKind.CONFIG:
            path = destination.public_path(request.url)
            body = f" ({outcome.detail.strip()[:120]})" if outcome.detail.strip() else ""
            outcome = Outcome(
                OutcomeKind.CONFIG,
                f"{request.method} {path} does not exist on the server{body}: check the endpoint= of "
                f"destination {self.lane!r} (scheme, host and base path only); its events are kept",
            )
        return response, outcome

    # -- recording -------------------------------------------------------------------------

    def _settle(
        self,
        store: QueueStore,
        claim: Claim,
        settled: list[Settled],
        dead: list[Dead],
        counts: Counter[tuple[str, str]] | None = None,
    ) -> None:
        store.complete(
            claim,
            self.owner,
            store.now(),
            settled=settled,
            counts=counts,
            dead=dead,
            max_dead_letters=self._max_dead_letters,
        )
        if any(name == "delivered" for _, name, _ in settled):
            self._recovered()

    def _record_failure(
        self, store: QueueStore, failure: tuple[Response, Outcome], state: LaneState, left: int
    ) -> Decision:
        response, outcome = failure
        decision = self._retry.decide(outcome, state.failures + 1, self._rng)
        error = describe(response, outcome)
        at = store.now()
        if decision.action == "pause":
            store.fail(
                self.lane,
                self.owner,
                at,
                error=error,
                paused_until=at + decision.delay,
                pause_reason=decision.reason,
                count_failure=outcome.kind is not OutcomeKind.RATE_LIMITED,
                counts={("paused", decision.reason): 1},
            )
        else:
            store.fail(
                self.lane,
                self.owner,
                at,
                error=error,
                next_attempt=at + decision.delay,
                server_failure=_server_fault(response, outcome),
                counts={("retried", outcome.kind.value): 1},
            )
        kind = cast(FailureKind, outcome.kind.value)  # never "ack": this is a failure
        self._report(DeliveryFailure(self.lane, kind, response.status, outcome.detail, left, decision.delay))
        return decision

    # -- reporting: the one place a lane logs ----------------------------------------------

    def _report(self, failure: DeliveryFailure) -> None:
        if failure.kind == "dead_lettered":  # each one is news
            log.warning("edgetrack: %s refused an event (%s); dead-lettered", self.lane, _short(failure))
        elif self._episode == failure.kind:
            log.debug("edgetrack: %s: still failing (%s)", self.lane, _short(failure))
            return  # the same episode: not news
        else:
            self._episode = failure.kind
            log.warning(
                "edgetrack: %s: %d events not delivered (%s: %s); they stay queued, next try in %.1f s",
                self.lane,
                failure.events,
                failure.kind,
                _short(failure),
                failure.retry_in,
            )
        if self._on_error is not None:
            try:
                self._on_error(failure)
            except Exception:
                log.exception("edgetrack: on_error callback raised")

    def _recovered(self) -> None:
        if self._episode is not None:
            log.info("edgetrack: %s: delivering again (after %s failures)", self.lane, self._episode)
            self._episode = None


def _short(failure: DeliveryFailure) -> str:
    return _cause(failure.status, failure.detail)[:240]


def describe(response: Response, outcome: Outcome) -> str:
    """What went wrong, said once: ``HTTP 503: upstream trouble``, ``HTTP 500`` (not "HTTP 500:
    HTTP 500"), or the transport's error for a request that got no answer."""
    return _cause(response.status, outcome.detail)


def _cause(status: int, detail: str) -> str:
    detail = detail.strip()
    prefix = f"HTTP {status}" if status else ""
    if not detail:
        return prefix or "no detail"
    return detail if not prefix or detail.startswith(prefix) else f"{prefix}: {detail}"


def _corrected(event: QueuedEvent, timeline: Timeline, offset: float) -> QueuedEvent:
    """The event with its timestamp corrected, when the wall clock was stepped since it was
    tracked in this boot (its monotonic age says when it really happened)."""
    true = timeline.true_wall(event.created, event.wall, offset)
    if true is None:
        return event
    body = event.body
    start = body.find(',"timestamp":"')  # the third key of every envelope edgetrack builds
    if start < 0:
        return event
    start += len(',"timestamp":"')
    end = body.find('"', start)
    return event._replace(body=body[:start] + iso_utc_from_epoch(true) + body[end:])


def _server_fault(response: Response, outcome: Outcome) -> bool:
    """A 5xx or 408 from the server (not a network error, which an offline device sees)."""
    return outcome.kind is OutcomeKind.TRANSIENT and (response.status >= 500 or response.status == 408)
