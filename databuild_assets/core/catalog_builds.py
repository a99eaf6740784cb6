"""Builds and their claims on partitions.

A build claims the partitions it is about to make (all or none) and keeps its claims by
heartbeat; a claim counts while its build runs, its heartbeat is younger than the lease
and, on this host, its pid is alive. Finishing a build gives back whatever it still holds.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable

import sqlalchemy as sa

from . import catalog_schema as s
from .catalog_engine import StorePart, chunks
from .catalog_events import Event
from .catalog_partitions import add_missing
from .catalog_retry import resilient
from .liveness import pid_alive
from .states import BuildState, PartitionState

HOST = socket.gethostname()
LEASE_SECONDS = 30.0
_BUILDING, _MISSING = PartitionState.BUILDING, PartitionState.MISSING


class Builds(StorePart):
    @resilient
    def start_build(self, build_id: str, requested: list[str], origin: str = "api",
                    events: Iterable[Event] = (), status: str = BuildState.RUNNING) -> None:
        """Record the build and log ``events`` (its request and plan) in one transaction; a
        ``status`` other than running records a build that is already over (a null build:
        nothing to run), so it costs one commit."""
        now = time.time()
        with self.db.tx() as conn:
            conn.execute(sa.insert(s.builds).values(
                build_id=build_id, started_at=now, heartbeat_at=now, host=HOST,
                pid=os.getpid(), status=status, requested=json.dumps(requested[:1000]),
                origin=origin, finished_at=None if status == BuildState.RUNNING else now))
            self.log.write(conn, list(events))

    @resilient
    def heartbeat(self, build_id: str) -> None:
        with self.db.tx() as conn:
            conn.execute(sa.update(s.builds).where(s.builds.c.build_id == build_id)
                         .values(heartbeat_at=time.time()))

    @resilient
    def finish_build(self, build_id: str, status: str) -> None:
        with self.db.tx() as conn:
            conn.execute(sa.update(s.builds).where(s.builds.c.build_id == build_id)
                         .values(status=status, finished_at=time.time()))
            # whatever this build still holds goes back to its previous state
            self.release_owned(conn, build_id)

    @resilient
    def builds(self, limit: int = 50) -> list[dict]:
        with self.db.read() as conn:
            rows = conn.execute(sa.select(s.builds).order_by(s.builds.c.started_at.desc())
                                .limit(limit)).mappings().all()
        return [dict(r) for r in rows]

    @resilient
    def build_statuses(self, build_ids: Iterable[str]) -> dict[str, str]:
        """{build id: running|succeeded|failed}; a build that died still says running."""
        ids = sorted(set(b for b in build_ids if b))
        out: dict[str, str] = {}
        with self.db.read() as conn:
            for chunk in chunks(ids):
                q = sa.select(s.builds.c.build_id, s.builds.c.status).where(
                    s.builds.c.build_id.in_(chunk))
                out.update(dict(conn.execute(q).all()))
        return out

    @resilient
    def alive_builds(self, build_ids: Iterable[str]) -> set[str]:
        ids = sorted(set(b for b in build_ids if b))
        if not ids:
            return set()
        alive: set[str] = set()
        with self.db.read() as conn:
            for chunk in chunks(ids):
                alive |= self.alive_in(conn, set(chunk))
        return alive

    def alive_in(self, conn: sa.Connection, ids: set[str]) -> set[str]:
        alive, now = set(), time.time()
        for b in conn.execute(sa.select(s.builds).where(s.builds.c.build_id.in_(sorted(ids)))):
            if b.status == BuildState.RUNNING and now - b.heartbeat_at <= LEASE_SECONDS and (
                b.host != HOST or pid_alive(b.pid)
            ):
                alive.add(b.build_id)
        return alive

    # -- claims ---------------------------------------------------------------------------
    @resilient
    def claim(self, refs: dict[str, str], build_id: str) -> str | None:
        """Make ``build_id`` the builder of all refs ({ref: dataset}), or none of them.

        Returns None on success, or the id of the live build that already holds one.
        """
        now = time.time()
        with self.db.tx() as conn:
            add_missing(self.db, conn, refs.items(), now)
            q = sa.select(s.partitions).where(s.partitions.c.ref.in_(list(refs)))
            if self.db.dialect == "postgresql":
                q = q.with_for_update()
            rows = conn.execute(q).all()
            others = {r.owner for r in rows
                      if r.state == _BUILDING and r.owner and r.owner != build_id}
            holders = self.alive_in(conn, others) if others else set()
            if holders:
                return sorted(holders)[0]
            p = s.partitions.c
            conn.execute(sa.update(s.partitions).where(p.ref.in_(list(refs))).values(
                prev_state=sa.case((p.state == _BUILDING, p.prev_state), else_=p.state),
                state=_BUILDING, owner=build_id, updated_at=now, attempts=p.attempts + 1))
        return None

    def release_owned(self, conn: sa.Connection, build_id: str,
                      refs: list[str] | None = None) -> None:
        p = s.partitions.c
        q = sa.update(s.partitions).where(p.owner == build_id, p.state == _BUILDING)
        if refs is not None:
            q = q.where(p.ref.in_(refs))
        conn.execute(q.values(state=sa.func.coalesce(p.prev_state, _MISSING), owner=None,
                              updated_at=time.time()))

    @resilient
    def release(self, refs: Iterable[str], build_id: str) -> None:
        with self.db.tx() as conn:
            self.release_owned(conn, build_id, sorted(refs))
