"""One batch of one lane: encode -> send -> interpret -> decide -> record.

The only place where a destination, the sender, the retry policy and the store meet. It
holds no state between batches; the lane's failure count and pause live in the queue file.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from edgetrack.events import iso_utc_from_epoch
from edgetrack.models import Outcome, OutcomeKind, QueuedEvent, Response
from edgetrack.protocols import Destination, Sender
from edgetrack.retry import RetryPolicy
from edgetrack.store.sqlite import Claim, SQLiteStore

__all__ = ["DeliveryFailure", "deliver"]

log = logging.getLogger("edgetrack.delivery")

MAX_REQUESTS_PER_BATCH = 40  # bisecting 100 events around one bad one takes about 14


@dataclass(frozen=True, slots=True)
class DeliveryFailure:
    """What ``on_error`` receives: which lane, what went wrong, and what happens next."""

    lane: str
    kind: str  # an OutcomeKind value ("transient", "rate_limited", "auth", ...) or "dead_lettered"
    status: int
    detail: str
    events: int
    retry_in: float


Report = Callable[[DeliveryFailure], None]


def deliver(
    store: SQLiteStore,
    claim: Claim,
    destination: Destination,
    sender: Sender,
    *,
    owner: str,
    now: Callable[[], float],
    failures: int,
    retry: RetryPolicy,
    rng: random.Random,
    timeout: tuple[float, float],
    report: Report,
    server_failures: int = 0,
    throttle: Callable[[], bool] | None = None,
    max_dead_letters: int = 1000,
) -> bool:
    """Deliver the first request's worth of a claim; True when the lane may go on.

    Events the destination cannot take (unsupported call, too old, no usable id) are counted,
    or dead-lettered with their reason, and never block the events after them.
    """
    at = now()
    verdicts: list[tuple[str, str] | None] = []
    candidates: list[QueuedEvent] = []
    for event in claim.events:
        verdict = ("skipped", event.type) if event.type not in destination.supports else None
        if verdict is None and at - event.created > retry.max_age:
            verdict = ("expired", "max_age")
        verdict = verdict or _check(destination, event, at, claim.lane)
        verdicts.append(verdict)
        if verdict is None:
            candidates.append(event)
    supported: list[QueuedEvent] = []
    cut = len(claim.events)
    if candidates:
        take = max(1, min(len(candidates), destination.batch(candidates)))
        supported = candidates[:take]
        if take < len(candidates):
            cut = claim.events.index(supported[-1]) + 1
    part = Claim(claim.lane, claim.events[:cut], claim.events[cut - 1].id)
    counts: Counter[tuple[str, str]] = Counter()
    dead: list[tuple[QueuedEvent, str, str]] = []
    for event, verdict in zip(part.events, verdicts, strict=False):
        if verdict is not None:
            kind, reason = verdict
            if kind == "skipped":
                counts[("skipped", reason)] += 1
            else:
                counts[("dead", reason)] += 1
                dead.append((event, reason, kind))
    if not supported:
        store.complete(part, owner, at, counts=counts, dead=dead, max_dead_letters=max_dead_letters)
        return True

    if server_failures >= retry.max_attempts // 2:
        # The server has failed on this lane's batch for a long time: probe with the head event
        # alone, so a poison event that crashes the server is isolated (and, at max_attempts,
        # dead-lettered) while an outage costs at most one event per max_attempts failures.
        sending = supported[:1]
    else:
        sending = supported

    # Send the batch; a 413 / 400 / 422 on several events splits it in halves (in order), so
    # a bad or oversized event is isolated in a handful of requests and dead-lettered alone.
    # Halves are settled left to right, so what is settled is always a prefix of the batch.
    settled, requests = 0, 0
    stack = [(0, len(sending))]
    failure: tuple[Response, Outcome] | None = None
    while stack:
        if requests >= MAX_REQUESTS_PER_BATCH or (throttle is not None and not throttle()):
            break  # settle what is done; the lane's next claim goes on from there
        lo, hi = stack.pop()
        chunk = sending[lo:hi]
        response, outcome = _attempt(destination, sender, chunk, now(), timeout, claim.lane)
        requests += 1
        if outcome.kind is OutcomeKind.ACK:
            counts[("delivered", "")] += len(chunk)
            settled = hi
        elif outcome.kind in (OutcomeKind.REJECTED, OutcomeKind.TOO_LARGE) and len(chunk) > 1:
            middle = (lo + hi) // 2
            stack += [(middle, hi), (lo, middle)]
            counts[("split", outcome.kind.value)] += 1
        elif outcome.kind in (OutcomeKind.REJECTED, OutcomeKind.TOO_LARGE):
            reason = outcome.kind.value
            dead.append((chunk[0], reason, f"HTTP {response.status}: {outcome.detail}"[:500]))
            counts[("dead", reason)] += 1
            settled = hi
            report(DeliveryFailure(claim.lane, "dead_lettered", response.status, outcome.detail, 1, 0.0))
            log.warning(
                "edgetrack: %s refused an event (%s); dead-lettered", claim.lane, outcome.detail[:200]
            )
        elif (
            len(chunk) == 1 and _server_fault(response, outcome) and server_failures + 1 >= retry.max_attempts
        ):
            # The server failed on this one event max_attempts times in a row: give up on it.
            dead.append((chunk[0], "max_attempts", f"HTTP {response.status}: {outcome.detail}"[:500]))
            counts[("dead", "max_attempts")] += 1
            settled = hi
        else:
            failure = (response, outcome)
            break
    at = now()
    if settled:
        cut = len(part.events) if settled == len(supported) else part.events.index(sending[settled - 1]) + 1
        done = Claim(claim.lane, part.events[:cut], part.events[cut - 1].id)
        ids = {event.id for event in done.events}
        kept = [d for d in dead if d[0].id in ids]
        store.complete(done, owner, at, counts=counts, dead=kept, max_dead_letters=max_dead_letters)
    if failure is None:
        return True
    response, outcome = failure
    left = len(sending) - settled
    decision = retry.decide(outcome, failures + 1, rng)
    error = f"HTTP {response.status}: {outcome.detail}" if response.status else outcome.detail
    if decision.action == "pause":
        store.fail(
            claim.lane,
            owner,
            at,
            error=error,
            paused_until=at + decision.delay,
            pause_reason=decision.reason,
            count_failure=outcome.kind is not OutcomeKind.RATE_LIMITED,
            counts={("paused", decision.reason): 1},
        )
    else:
        store.fail(
            claim.lane,
            owner,
            at,
            error=error,
            next_attempt=at + decision.delay,
            server_failure=_server_fault(response, outcome),
            counts={("retried", outcome.kind.value): 1},
        )
    log.warning(
        "edgetrack: %s: %d events not delivered (%s); next try in %.1f s",
        claim.lane,
        left,
        error,
        decision.delay,
    )
    report(
        DeliveryFailure(claim.lane, outcome.kind.value, response.status, outcome.detail, left, decision.delay)
    )
    return False


def _check(destination: Destination, event: QueuedEvent, at: float, lane: str) -> tuple[str, str] | None:
    """The destination's verdict; one that fails on an event (it cannot map it) dead-letters it."""
    try:
        return destination.check(event, at)
    except Exception as exc:
        log.warning("edgetrack: %s cannot map event %s (%s); dead-lettered", lane, event.message_id, exc)
        return ("dead", f"unmappable: {type(exc).__name__}")


def _server_fault(response: Response, outcome: Outcome) -> bool:
    """A 5xx or 408 from the server (not a network error, which an offline device sees)."""
    return outcome.kind is OutcomeKind.TRANSIENT and (response.status >= 500 or response.status == 408)


def _attempt(
    destination: Destination,
    sender: Sender,
    events: list[QueuedEvent],
    at: float,
    timeout: tuple[float, float],
    lane: str,
) -> tuple[Response, Outcome]:
    try:
        request = destination.encode(events, sent_at=iso_utc_from_epoch(at))
    except Exception as exc:  # an event the destination cannot map: isolate it like a refused one
        log.warning("edgetrack: %s could not encode a batch: %s: %s", lane, type(exc).__name__, exc)
        response = Response(0, error=f"encode failed: {type(exc).__name__}: {exc}")
        return response, Outcome(OutcomeKind.REJECTED, response.error or "")
    if len(events) > 1 and len(request.body) > destination.limits.max_bytes:
        # The vendor's own body (after mapping) would be over its limit: split before sending.
        return Response(0, error="body over the vendor's limit"), Outcome(OutcomeKind.TOO_LARGE, "pre-send")
    response = sender.send(request, timeout=timeout)
    return response, destination.interpret(response)
