"""The build event log (``build_events``): append-only, written in the transaction of the
state change it reports, read by ``databuild log``, the Dagster mirror and propagation."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

from . import catalog_schema as s
from .catalog_engine import StorePart
from .catalog_retry import resilient


@dataclass(frozen=True)
class Event:
    build_id: str
    kind: str
    ref: str | None = None
    job: str | None = None
    detail: dict = field(default_factory=dict)
    ts: float = 0.0


class EventLog(StorePart):
    def write(self, conn: sa.Connection, events: Iterable[Event]) -> None:
        """Append ``events`` inside the caller's transaction."""
        now, texts = time.time(), {}  # a detail dict shared by many events is dumped once
        rows = [(e.build_id, e.ts or now, e.kind, e.ref, e.job,
                 _detail_text(e.detail, texts) if e.detail else None) for e in events]
        if not rows:
            return
        if self.db.dialect == "sqlite" and len(rows) > 1:  # sqlite3's executemany, in C
            conn.exec_driver_sql(f"INSERT INTO {s.events.name} (build_id, ts, kind, ref, job, "
                                 "detail) VALUES (?, ?, ?, ?, ?, ?)", rows)
        else:  # PostgreSQL: SQLAlchemy batches the rows into multi-VALUES statements
            keys = ("build_id", "ts", "kind", "ref", "job", "detail")
            conn.execute(sa.insert(s.events), [dict(zip(keys, r, strict=True)) for r in rows])

    @resilient
    def log(self, events: Iterable[Event]) -> None:
        events = list(events)
        if events:
            with self.db.tx() as conn:
                self.write(conn, events)

    @resilient
    def events(self, build_id: str | None = None, ref: str | None = None,
               limit: int = 200) -> list[Event]:
        e = s.events.c
        q = sa.select(s.events).order_by(e.id.desc()).limit(limit)
        if build_id:
            q = q.where(e.build_id == build_id)
        if ref:
            q = q.where(e.ref == ref)
        with self.db.read() as conn:
            rows = conn.execute(q).all()
        return [Event(r.build_id, r.kind, r.ref, r.job, json.loads(r.detail) if r.detail else {},
                      r.ts) for r in reversed(rows)]


def _detail_text(detail: dict, texts: dict[int, str]) -> str:
    """json of an event's detail, memoized by identity within one ``write`` call (a null
    build logs one shared detail for each of its skipped refs)."""
    text = texts.get(id(detail))
    if text is None:
        text = texts[id(detail)] = json.dumps(detail, default=str)
    return text
