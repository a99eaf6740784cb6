"""Reads of stored manifests: whole ones (with their configs), the lighter facts staleness
reads, a ref's history and the action cache's candidates. Manifests are written with the
partition they publish (``catalog_partitions``)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from . import catalog_configs as cc
from . import catalog_schema as s
from .catalog_engine import Database, StorePart, chunks
from .catalog_partitions import ROW_FIELDS, row
from .catalog_retry import resilient
from .facts import ManifestFacts, PartitionRow
from .manifest import PartitionManifest


class Manifests(StorePart):
    def __init__(self, db: Database, configs: cc.ConfigTexts):
        super().__init__(db)
        self.configs = configs

    @resilient
    def manifests(self, ids: Iterable[str]) -> dict[str, PartitionManifest]:
        ids = sorted(set(i for i in ids if i))
        out = {}
        with self.db.read() as conn:
            for chunk in chunks(ids):
                q = sa.select(s.manifests.c.body, s.manifests.c.config_key).where(
                    s.manifests.c.manifest_id.in_(chunk))
                for man in cc.full_manifests(conn, self.configs, conn.execute(q)):
                    out[man.manifest_id] = man
        return out

    @resilient
    def manifest_facts(self, ids: Iterable[str]) -> dict[str, ManifestFacts]:
        """The fields staleness reads, for many manifests: a lighter ``manifests()``."""
        ids = sorted(set(i for i in ids if i))
        out = {}
        cols = ("manifest_id", "code_version", "dataset_version", "data_version", "mat_inputs",
                "path", "size")
        old = []  # written before schema v4: the inputs are in the body
        fetch_in = self.db.fetch_in
        with self.db.read() as conn:
            for mid, code, dsv, dv, mat, path, size in fetch_in(
                    conn, s.manifests, cols, "manifest_id", ids):
                if mat is None:
                    old.append(mid)
                    continue
                out[mid] = ManifestFacts(mid, code, dsv, dv, cc.parse_mat_inputs(mat), path, size)
            cols = ("manifest_id", "code_version", "dataset_version", "data_version", "body",
                    "path", "size")
            for mid, code, dsv, dv, body, path, size in fetch_in(
                    conn, s.manifests, cols, "manifest_id", old):
                try:
                    inputs = cc.materialize_inputs(cc.input_records(body))
                except (KeyError, TypeError):  # not what the fast path expected: parse it all
                    inputs = cc.materialize_inputs(cc.loads(body).get("inputs", ()))
                if path is None:  # written before schema v3: the body has the path
                    path = cc.loads(body).get("path") or None
                out[mid] = ManifestFacts(mid, code, dsv, dv, inputs, path, size)
        return out

    @resilient
    def partition_facts(self, refs: Iterable[str]
                        ) -> tuple[dict[str, PartitionRow], dict[str, ManifestFacts]]:
        """``partitions(refs)`` and the ``manifest_facts`` of their current manifests, in one
        joined read: a status round costs one query per chunk of refs, not two, and no
        second list of manifest ids to sort, bind and match."""
        n = len(ROW_FIELDS)
        rows: dict[str, PartitionRow] = {}
        facts: dict[str, ManifestFacts] = {}
        old = []  # written before schema v4: the inputs are in the body
        parse, facts_of = cc.parse_mat_inputs, ManifestFacts
        with self.db.read() as conn:
            p = self.db.table_name(conn, s.partitions)
            m = self.db.table_name(conn, s.manifests)
            head = (f"SELECT {', '.join('p.' + f for f in ROW_FIELDS)}, m.manifest_id, "
                    "m.code_version, m.dataset_version, m.data_version, m.mat_inputs, m.path, "
                    f"m.size FROM {p} p LEFT JOIN {m} m ON m.manifest_id = p.manifest_id "
                    "WHERE p.ref")
            for r in self.db.select_in(conn, head, sorted(set(refs))):
                rows[r[0]] = row(r[:n])
                mid, code, dsv, dv, mat, path, size = r[n:]
                if mid is None:  # no manifest (or a row naming one that is not stored)
                    continue
                if mat is None:
                    old.append(mid)
                    continue
                facts[mid] = facts_of(mid, code, dsv, dv, parse(mat), path, size)
        if old:
            facts.update(self.manifest_facts(old))
        return rows, facts

    @resilient
    def manifest_history(self, ref: str | None = None, dataset: str | None = None,
                         limit: int = 50) -> list[PartitionManifest]:
        q = sa.select(s.manifests.c.body, s.manifests.c.config_key).order_by(
            s.manifests.c.end_time.desc()).limit(limit)
        if ref:
            q = q.where(s.manifests.c.ref == ref)
        if dataset:
            q = q.where(s.manifests.c.dataset == dataset)
        with self.db.read() as conn:
            return cc.full_manifests(conn, self.configs, conn.execute(q))

    @resilient
    def action_candidates(self, refs: Iterable[str], config_hash: str, code_version: str,
                          limit: int = 10) -> dict[str, list[PartitionManifest]]:
        """Earlier manifests of each ref built by the same config and code, newest first."""
        m = s.manifests.c
        out: dict[str, list[PartitionManifest]] = {}
        with self.db.read() as conn:
            for chunk in chunks(sorted(set(refs))):
                q = (sa.select(m.body, m.config_key).where(
                    m.ref.in_(chunk), m.config_hash == config_hash,
                    m.code_version == code_version).order_by(m.end_time.desc()))
                for man in cc.full_manifests(conn, self.configs, conn.execute(q)):
                    if len(out.setdefault(man.ref, [])) < limit:
                        out[man.ref].append(man)
        return out
