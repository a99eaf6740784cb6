"""Wants, retry state and notifications: the rules; their tables are ``catalog.automation``.

A want says "these refs should exist": until every ref is live and fresh or its TTL passes,
the wants sensor keeps planning and launching the missing work. Retry state is kept per
ref (whoever launched the failed run); notifications are stored with a dedupe key, so each
one is sent at most once however often a sensor re-evaluates.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from .catalog import Catalog, Event
from .errors import DatabuildError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")


def parse_duration(text: str | float | int | None) -> float | None:
    """'30d', '6h', '1d12h', '90s', '2w' or a number of seconds; None/'' -> None."""
    if text is None or text == "":
        return None
    if isinstance(text, (int, float)):
        return float(text)
    t = str(text).strip().lower().replace(" ", "")
    try:
        return float(t)
    except ValueError:
        pass
    parts = _DURATION.findall(t)
    if not parts or "".join(n + u for n, u in parts) != t:
        raise DatabuildError(f"bad duration {text!r}: use e.g. 90s, 15m, 6h, 30d, 2w or 1d12h")
    return float(sum(float(n) * _UNITS[u] for n, u in parts))


def format_duration(seconds: float | None) -> str:
    """90 -> '1m30s', 21600 -> '6h' (the two largest units)."""
    if seconds is None:
        return "-"
    left, parts = int(round(seconds)), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts[:2]) or "0s"


@dataclass(frozen=True)
class Want:
    want_id: str
    refs: tuple[str, ...]
    created_at: float
    data_ts: float | None = None
    ttl_seconds: float | None = None
    expires_at: float | None = None
    sla_seconds: float | None = None
    source: str = "api"
    comment: str = ""
    state: str = "active"
    satisfied_at: float | None = None
    closed_at: float | None = None
    sla_breached_at: float | None = None

    @property
    def sla_start(self) -> float:
        return self.data_ts if self.data_ts is not None else self.created_at

    @property
    def sla_deadline(self) -> float | None:
        return None if self.sla_seconds is None else self.sla_start + self.sla_seconds

    def to_json(self) -> dict:
        return {k: (list(v) if k == "refs" else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class RetryState:
    ref: str
    attempts: int = 0  # failed attempts so far
    failure_class: str | None = None
    error: str | None = None
    next_attempt_at: float | None = None
    gave_up: bool = False
    last_run_id: str | None = None


def _want(r) -> Want:
    return Want(r.want_id, tuple(json.loads(r.refs)), r.created_at, r.data_ts, r.ttl_seconds,
                r.expires_at, r.sla_seconds, r.source, r.comment or "", r.state, r.satisfied_at,
                r.closed_at, r.sla_breached_at)


# -- wants --------------------------------------------------------------------------------
def create_want(catalog: Catalog, refs: Iterable[str], *, ttl: float | str | None = None,
                sla: float | str | None = None, source: str = "api", comment: str = "",
                data_ts: float | None = None, want_id: str | None = None,
                now: float | None = None) -> Want:
    """Record a want; with an explicit ``want_id`` it is idempotent (cron ticks)."""
    refs = sorted(set(refs))
    if not refs:
        raise DatabuildError("a want needs at least one ref")
    now = time.time() if now is None else now
    ttl_s, sla_s = parse_duration(ttl), parse_duration(sla)
    row = dict(want_id=want_id or uuid.uuid4().hex[:12], refs=json.dumps(refs), n_refs=len(refs),
               data_ts=data_ts, created_at=now, ttl_seconds=ttl_s,
               expires_at=None if ttl_s is None else now + ttl_s, sla_seconds=sla_s,
               source=source[:200], comment=comment or "", state="active")
    return _want(catalog.automation.insert_want(row))


def want(graph, refs: Iterable[str], **kwargs) -> Want:
    """The want API: check ``refs`` against ``graph``, record the want (``create_want``
    keywords) and forget earlier give-ups of everything it needs: asking again is trying
    again."""
    refs = list(refs)
    for r in refs:
        graph.registry.parse(r)
    w = create_want(graph.catalog, refs, **kwargs)
    clear_retries(graph.catalog, set(refs) | set(graph.plan(refs).output_refs))
    return w


def get_want(catalog: Catalog, want_id: str) -> Want | None:
    r = catalog.automation.want_row(want_id)
    return _want(r) if r else None


def list_wants(catalog: Catalog, states: Iterable[str] | None = None,
               limit: int = 500) -> list[Want]:
    return [_want(r) for r in catalog.automation.want_rows(states, limit)]


def active_wants(catalog: Catalog) -> list[Want]:
    return sorted(list_wants(catalog, ["active"], limit=100_000), key=lambda w: w.created_at)


def close_wants(catalog: Catalog, satisfied: Iterable[str] = (), expired: Iterable[str] = (),
                now: float | None = None) -> None:
    now = time.time() if now is None else now
    catalog.automation.close_wants(sorted(satisfied), sorted(expired), now)


def cancel_want(catalog: Catalog, want_id: str, now: float | None = None) -> bool:
    return catalog.automation.cancel_want(want_id, now or time.time())


def mark_sla_breached(catalog: Catalog, want_ids: Iterable[str], now: float | None = None) -> None:
    catalog.automation.mark_sla_breached(sorted(set(want_ids)), now or time.time())


# -- retries ------------------------------------------------------------------------------
def retry_states(catalog: Catalog, refs: Iterable[str] | None = None) -> dict[str, RetryState]:
    return {r.ref: RetryState(r.ref, r.attempts, r.failure_class, r.error, r.next_attempt_at,
                              bool(r.gave_up), r.last_run_id)
            for r in catalog.automation.attempt_rows(refs)}


def record_failures(catalog: Catalog, states: Iterable[RetryState], events: Iterable[Event] = (),
                    now: float | None = None) -> None:
    """Upsert retry states and log their events, in one transaction."""
    now = time.time() if now is None else now
    catalog.automation.put_attempts([dict(
        ref=st.ref, attempts=st.attempts, failure_class=st.failure_class,
        error=(st.error or "")[:4000], next_attempt_at=st.next_attempt_at,
        gave_up=int(st.gave_up), last_run_id=st.last_run_id, updated_at=now)
        for st in states], events)


def clear_retries(catalog: Catalog, refs: Iterable[str]) -> None:
    catalog.automation.clear_attempts(refs)


# -- notifications ------------------------------------------------------------------------
@dataclass(frozen=True)
class Notification:
    id: int
    kind: str
    payload: dict
    want_id: str | None
    ref: str | None
    dataset: str | None
    created_at: float
    delivered_at: float | None
    delivery_attempts: int


def add_notification(catalog: Catalog, dedupe_key: str, kind: str, payload: dict, *,
                     want_id: str | None = None, ref: str | None = None,
                     dataset: str | None = None, now: float | None = None) -> bool:
    """Store a notification unless one with this key exists; True if it is new."""
    now = time.time() if now is None else now
    key = hashlib.sha256(dedupe_key.encode()).hexdigest()[:64]
    return catalog.automation.insert_notification(dict(
        dedupe_key=key, kind=kind, want_id=want_id, ref=ref, dataset=dataset,
        day=dt.datetime.fromtimestamp(now, dt.UTC).date().isoformat(), created_at=now,
        payload=json.dumps(payload, default=str), delivery_attempts=0))


def notifications(catalog: Catalog, *, undelivered: bool = False, max_attempts: int = 5,
                  kind: str | None = None, limit: int = 500) -> list[Notification]:
    rows = catalog.automation.notification_rows(undelivered=undelivered,
                                                max_attempts=max_attempts, kind=kind, limit=limit)
    return [Notification(r.id, r.kind, json.loads(r.payload), r.want_id, r.ref, r.dataset,
                         r.created_at, r.delivered_at, r.delivery_attempts) for r in rows]


def mark_delivery(catalog: Catalog, notification_id: int, ok: bool, error: str = "") -> None:
    catalog.automation.mark_delivery(notification_id, time.time() if ok else None, error)


def sla_miss_counts(catalog: Catalog, days: int = 30) -> list[tuple[str, str, int]]:
    """(dataset, UTC day, partitions that missed their SLA), newest day first."""
    since = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days)).isoformat()
    return catalog.automation.sla_miss_counts(since)


# -- the event log, for propagation -------------------------------------------------------
def last_event_id(catalog: Catalog) -> int:
    return catalog.automation.last_event_id()


def available_since(catalog: Catalog, after_id: int, limit: int = 5000) -> list[tuple[int, str]]:
    """(event id, ref) of partitions that became live after event ``after_id``."""
    return catalog.automation.available_since(after_id, limit)


def readers_of(catalog: Catalog, refs: Iterable[str]) -> dict[str, set[str]]:
    """Live partitions whose current manifest read one of ``refs`` as a MATERIALIZE input."""
    return catalog.automation.readers_of(refs)
