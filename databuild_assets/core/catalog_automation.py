"""The automation tables (schema migration 2): wants, retry state per ref, notifications,
and the event-log reads propagation polls. Rows in, rows out: ``wants.py`` turns them into
``Want``, ``RetryState`` and ``Notification`` and holds the rules (durations, dedupe keys)."""

from __future__ import annotations

import json
from collections.abc import Iterable

import sqlalchemy as sa

from . import catalog_schema as s
from .catalog_engine import StorePart, chunks
from .catalog_events import Event


class AutomationTables(StorePart):
    # -- wants ----------------------------------------------------------------------------
    def insert_want(self, row: dict):
        """Insert the want unless its id exists (idempotent); the stored row either way."""
        with self.db.tx() as conn:
            conn.execute(self.db.insert_ignore(s.wants), row)
            return conn.execute(sa.select(s.wants).where(
                s.wants.c.want_id == row["want_id"])).one()

    def want_row(self, want_id: str):
        with self.db.read() as conn:
            return conn.execute(sa.select(s.wants).where(s.wants.c.want_id == want_id)).first()

    def want_rows(self, states: Iterable[str] | None = None, limit: int = 500) -> list:
        q = sa.select(s.wants).order_by(s.wants.c.created_at.desc()).limit(limit)
        if states:
            q = q.where(s.wants.c.state.in_(list(states)))
        with self.db.read() as conn:
            return list(conn.execute(q))

    def close_wants(self, satisfied: list[str], expired: list[str], now: float) -> None:
        w = s.wants.c
        with self.db.tx() as conn:
            for ids, values in ((satisfied, dict(state="satisfied", satisfied_at=now)),
                                (expired, dict(state="expired"))):
                for chunk in chunks(ids):
                    conn.execute(sa.update(s.wants).where(w.want_id.in_(chunk),
                                                          w.state == "active")
                                 .values(closed_at=now, **values))

    def cancel_want(self, want_id: str, now: float) -> bool:
        w = s.wants.c
        with self.db.tx() as conn:
            res = conn.execute(sa.update(s.wants).where(w.want_id == want_id,
                                                        w.state == "active")
                               .values(state="cancelled", closed_at=now))
        return res.rowcount > 0

    def mark_sla_breached(self, want_ids: list[str], now: float) -> None:
        w = s.wants.c
        with self.db.tx() as conn:
            for chunk in chunks(want_ids):
                conn.execute(sa.update(s.wants).where(w.want_id.in_(chunk),
                                                      w.sla_breached_at.is_(None))
                             .values(sla_breached_at=now, sla_notified=1))

    # -- retries --------------------------------------------------------------------------
    def attempt_rows(self, refs: Iterable[str] | None = None) -> list:
        a = s.want_attempts.c
        with self.db.read() as conn:
            queries = ([sa.select(s.want_attempts)] if refs is None else
                       [sa.select(s.want_attempts).where(a.ref.in_(c))
                        for c in chunks(sorted(set(refs)))])
            return [r for q in queries for r in conn.execute(q)]

    def put_attempts(self, rows: list[dict], events: Iterable[Event] = ()) -> None:
        """Upsert retry-state rows and log their events, in one transaction."""
        with self.db.tx() as conn:
            for row in rows:
                conn.execute(sa.delete(s.want_attempts).where(
                    s.want_attempts.c.ref == row["ref"]))
                conn.execute(sa.insert(s.want_attempts).values(**row))
            self.log.write(conn, events)

    def clear_attempts(self, refs: Iterable[str]) -> None:
        with self.db.tx() as conn:
            for chunk in chunks(sorted(set(refs))):
                conn.execute(sa.delete(s.want_attempts).where(s.want_attempts.c.ref.in_(chunk)))

    # -- notifications --------------------------------------------------------------------
    def insert_notification(self, row: dict) -> bool:
        """Store the notification unless one with its dedupe key exists; True if new."""
        with self.db.tx() as conn:
            res = conn.execute(self.db.insert_ignore(s.notifications), row)
        return res.rowcount > 0

    def notification_rows(self, *, undelivered: bool, max_attempts: int, kind: str | None,
                          limit: int) -> list:
        n = s.notifications.c
        q = sa.select(s.notifications).order_by(n.id).limit(limit)
        if undelivered:
            q = q.where(n.delivered_at.is_(None), n.delivery_attempts < max_attempts)
        if kind:
            q = q.where(n.kind == kind)
        with self.db.read() as conn:
            return list(conn.execute(q))

    def mark_delivery(self, notification_id: int, delivered_at: float | None,
                      error: str) -> None:
        n = s.notifications.c
        values = dict(delivery_attempts=n.delivery_attempts + 1, last_error=error[:2000] or None)
        if delivered_at is not None:
            values["delivered_at"] = delivered_at
        with self.db.tx() as conn:
            conn.execute(sa.update(s.notifications).where(n.id == notification_id)
                         .values(**values))

    def sla_miss_counts(self, since: str) -> list[tuple[str, str, int]]:
        """(dataset, UTC day, partitions that missed their SLA) since ``since``, newest first."""
        n = s.notifications.c
        q = (sa.select(n.dataset, n.day, sa.func.count())
             .where(n.kind == "sla_breach", n.day >= since)
             .group_by(n.dataset, n.day).order_by(n.day.desc(), n.dataset))
        with self.db.read() as conn:
            return [(d or "-", day, int(c)) for d, day, c in conn.execute(q)]

    # -- the event log, for propagation ---------------------------------------------------
    def last_event_id(self) -> int:
        with self.db.read() as conn:
            return int(conn.execute(sa.select(sa.func.max(s.events.c.id))).scalar() or 0)

    def available_since(self, after_id: int, limit: int = 5000) -> list[tuple[int, str]]:
        """(event id, ref) of partitions that became live after event ``after_id``."""
        e = s.events.c
        q = (sa.select(e.id, e.ref)
             .where(e.id > after_id, e.kind == "available", e.ref.is_not(None))
             .order_by(e.id).limit(limit))
        with self.db.read() as conn:
            return [(int(i), r) for i, r in conn.execute(q)]

    def readers_of(self, refs: Iterable[str]) -> dict[str, set[str]]:
        """Live partitions whose current manifest read one of ``refs`` as a MATERIALIZE
        input."""
        refs = sorted(set(refs))
        out: dict[str, set[str]] = {}
        m, p = s.manifests.c, s.partitions.c
        with self.db.read() as conn:
            for chunk in chunks(refs, 50):
                like = sa.or_(*[m.body.contains(json.dumps({"ref": r})[1:-1], autoescape=True)
                                for r in chunk])
                q = (sa.select(m.ref, m.body).select_from(s.manifests.join(
                    s.partitions, p.manifest_id == m.manifest_id)).where(like))
                wanted = set(chunk)
                for ref, body in conn.execute(q):
                    for rec in json.loads(body).get("inputs", ()):
                        if rec.get("ref") in wanted and rec.get("dep_type") == "materialize":
                            out.setdefault(rec["ref"], set()).add(ref)
        return out
