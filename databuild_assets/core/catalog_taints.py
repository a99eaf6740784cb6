"""Taints: a manifest version marked bad. Everything that read it stays stale until rebuilt,
even if the tainted partition is rebuilt to the same bytes."""

from __future__ import annotations

import time
from collections.abc import Iterable

import sqlalchemy as sa

from . import catalog_schema as s
from .catalog_engine import READ_CHUNK, StorePart, chunks
from .catalog_events import Event
from .catalog_retry import resilient


class Taints(StorePart):
    @resilient
    def taint(self, ref: str, manifest_id: str, reason: str, build_id: str = "taint") -> None:
        with self.db.tx() as conn:
            conn.execute(sa.delete(s.taints).where(s.taints.c.manifest_id == manifest_id))
            conn.execute(sa.insert(s.taints).values(manifest_id=manifest_id, ref=ref,
                                                    reason=reason, created_at=time.time()))
            self.log.write(conn, [Event(build_id, "tainted", ref, detail={
                "reason": reason, "manifest_id": manifest_id})])

    @resilient
    def any_taints(self) -> bool:
        with self.db.read() as conn:
            return conn.execute(sa.select(s.taints.c.manifest_id).limit(1)).first() is not None

    @resilient
    def taints(self, manifest_ids: Iterable[str]) -> dict[str, str]:
        ids = sorted(set(i for i in manifest_ids if i))
        out = {}
        with self.db.read() as conn:
            if len(ids) > READ_CHUNK:  # taints are few: read them all rather than probe
                total = conn.execute(sa.select(sa.func.count()).select_from(s.taints)).scalar()
                if total < len(ids):
                    wanted = set(ids)
                    q = sa.select(s.taints.c.manifest_id, s.taints.c.reason)
                    return {m: r for m, r in conn.execute(q).all() if m in wanted}
            for chunk in chunks(ids, READ_CHUNK):
                q = sa.select(s.taints.c.manifest_id, s.taints.c.reason).where(
                    s.taints.c.manifest_id.in_(chunk))
                out.update(dict(conn.execute(q).all()))
        return out
