"""Partition rows and the transitions that publish or fail them.

A partition becomes live in the same transaction that stores its manifest and logs its
event; a failed attempt keeps the last good version live when there is one.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import sqlalchemy as sa

from . import catalog_configs as cc
from . import catalog_schema as s
from .catalog_engine import Database, StorePart
from .catalog_events import Event, EventLog
from .catalog_retry import log as _retry_log
from .catalog_retry import resilient, retrying
from .errors import CatalogError
from .facts import PartitionRow
from .manifest import PartitionManifest
from .states import PartitionState

ROW_FIELDS = tuple(PartitionRow.__dataclass_fields__)
_LIVE, _BUILDING, _MISSING = PartitionState.LIVE, PartitionState.BUILDING, PartitionState.MISSING


def row(r) -> PartitionRow:
    """A PartitionRow from a row of the ROW_FIELDS columns in that order, without the
    frozen dataclass's per-field object.__setattr__ (a third of reading 100k rows)."""
    out = object.__new__(PartitionRow)
    out.__dict__.update(zip(ROW_FIELDS, r, strict=True))
    return out


def add_missing(db: Database, conn: sa.Connection, refs: Iterable[tuple[str, str]],
                now: float) -> None:
    """Insert a ``missing`` row for each (ref, dataset) of ``refs`` that has none."""
    rows = [{"ref": r, "dataset": d, "state": _MISSING, "updated_at": now, "attempts": 0}
            for r, d in refs]
    if rows:
        conn.execute(db.insert_ignore(s.partitions), rows)


class Partitions(StorePart):
    def __init__(self, db: Database, log: EventLog, configs: cc.ConfigTexts):
        super().__init__(db, log)
        self.configs = configs

    @resilient
    def partitions(self, refs: Iterable[str]) -> dict[str, PartitionRow]:
        refs = sorted(set(refs))
        out: dict[str, PartitionRow] = {}
        with self.db.read() as conn:
            for r in self.db.fetch_in(conn, s.partitions, ROW_FIELDS, "ref", refs):
                out[r[0]] = row(r)
        return out

    @resilient
    def partitions_of(self, dataset: str | None = None) -> list[PartitionRow]:
        q = sa.select(*[s.partitions.c[f] for f in ROW_FIELDS]).order_by(s.partitions.c.ref)
        if dataset:
            q = q.where(s.partitions.c.dataset == dataset)
        with self.db.read() as conn:
            return [row(r) for r in conn.execute(q)]

    @resilient
    def commit_many(self, items: Iterable[tuple[PartitionManifest, str]],
                    events: Iterable[Event] = ()) -> None:
        """Store many (manifest, dataset) pairs and make their partitions live in one
        transaction: all or none (bulk imports; a batch of 1 is ``commit``)."""
        items = list(items)
        if not items:
            return
        try:
            self._commit_many(items, events)
        except sa.exc.IntegrityError:
            if not self._stored_by_an_earlier_attempt(items):
                raise

    def _stored_by_an_earlier_attempt(self, items: list) -> bool:
        """After a duplicate manifest id: True when a lost connection hid that an earlier
        attempt of this very commit succeeded (every manifest stored, identical; manifest
        ids are random, so nothing else stores them), a CatalogError for any other stored
        manifest id, False when no manifest id collided (another integrity error)."""
        want = {m.manifest_id: (ds, cc.body(m), m.ref) for m, ds in items}
        with self.db.read() as conn:
            have = {i: (ds, body) for i, ds, body in self.db.fetch_in(
                conn, s.manifests, ("manifest_id", "dataset", "body"), "manifest_id",
                sorted(want))}
        if not have:
            return False
        differ = sorted(i for i in have if have[i] != want[i][:2])
        if not differ and len(have) == len(want) and retrying():
            _retry_log.info("catalog: %d manifest(s) were committed before the connection "
                            "was lost; not storing them again", len(want))
            return True
        i = differ[0] if differ else min(have)
        how = "with different content" if differ else "by an earlier commit"
        raise CatalogError(
            f"manifest {i} of {want[i][2]} is already stored in the catalog {self.url} {how}; "
            "nothing of this commit was recorded. Manifest ids must be unique: rebuild the "
            "partition (a build makes a new id) and report the caller that reused the id")

    def _commit_many(self, items: list, events: Iterable[Event]) -> None:
        now = time.time()
        p = s.partitions
        keys, distinct = cc.keyed(items)
        with self.db.tx() as conn:
            cc.store(conn, self.db.dialect, self.configs.unstored(distinct))
            conn.execute(sa.insert(s.manifests), [dict(
                manifest_id=m.manifest_id, ref=m.ref, dataset=ds, job=m.job,
                config_hash=m.config_hash, code_version=m.code_version,
                dataset_version=m.dataset_version, data_version=m.data_version,
                run_id=m.run_id, build_id=m.build_id, start_time=m.start_time,
                end_time=m.end_time, row_count=m.row_count, body=cc.body(m), path=m.path or None,
                size=m.size, config_key=key, mat_inputs=cc.mat_inputs(m))
                for (m, ds), key in zip(items, keys, strict=True)])
            add_missing(self.db, conn, [(m.ref, ds) for m, ds in items], now)
            q = sa.update(p).where(p.c.ref == sa.bindparam("b_ref")).values(
                state=_LIVE, prev_state=None, manifest_id=sa.bindparam("b_mid"),
                data_version=sa.bindparam("b_dv"), owner=None, error=None, updated_at=now)
            rows = [{"b_ref": m.ref, "b_mid": m.manifest_id, "b_dv": m.data_version}
                    for m, _ds in items]
            if len(rows) == 1:
                conn.execute(q, rows[0])
            else:
                conn.execute(q, rows)
            self.log.write(conn, events)
        self.configs.committed(distinct)

    @resilient
    def fail(self, refs: dict[str, str], build_id: str, error: str,
             events: Iterable[Event] = ()) -> None:
        """Record a failed attempt. A partition with a published manifest keeps it (the
        last good version stays live and readable, with the error noted); one without
        becomes ``failed``."""
        now = time.time()
        p = s.partitions.c
        with self.db.tx() as conn:
            add_missing(self.db, conn, refs.items(), now)
            published = sa.and_(p.manifest_id.is_not(None), sa.or_(
                p.state == _LIVE, sa.and_(p.state == _BUILDING,
                                          sa.func.coalesce(p.prev_state, _LIVE) == _LIVE)))
            conn.execute(sa.update(s.partitions).where(p.ref.in_(list(refs))).values(
                state=sa.case((published, _LIVE), else_=PartitionState.FAILED), prev_state=None,
                owner=None, error=error[:4000], updated_at=now))
            self.log.write(conn, events)

    @resilient
    def mark_damaged(self, ref: str, manifest_id: str, why: str) -> None:
        """A reader found the published file of ``ref`` broken: stop offering it, so the
        planner rebuilds it (a claim in progress keeps going and restores "damaged")."""
        p = s.partitions.c
        damaged = PartitionState.DAMAGED
        with self.db.tx() as conn:
            conn.execute(sa.update(s.partitions).where(
                p.ref == ref, p.manifest_id == manifest_id, p.state == _LIVE).values(
                state=damaged, error=f"damaged: {why}"[:4000], updated_at=time.time()))
            conn.execute(sa.update(s.partitions).where(
                p.ref == ref, p.manifest_id == manifest_id, p.state == _BUILDING).values(
                prev_state=damaged, error=f"damaged: {why}"[:4000]))

    @resilient
    def republish(self, manifest: PartitionManifest, dataset: str,
                  events: Iterable[Event] = ()) -> None:
        """Make an existing manifest the live version again (an action-cache hit)."""
        now = time.time()
        p = s.partitions
        with self.db.tx() as conn:
            add_missing(self.db, conn, [(manifest.ref, dataset)], now)
            conn.execute(sa.update(p).where(p.c.ref == manifest.ref).values(
                state=_LIVE, prev_state=None, manifest_id=manifest.manifest_id,
                data_version=manifest.data_version, owner=None, error=None, updated_at=now))
            self.log.write(conn, events)
