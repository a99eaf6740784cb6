"""Reads of stored manifests: whole ones (with their configs), the lighter facts staleness
reads, a ref's history and the action cache's candidates. Manifests are written with the
partition they publish (``catalog_partitions``)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from . import catalog_configs as cc
from . import catalog_schema as s
from .catalog_engine import Database, StorePart, chunks
from .catalog_retry import resilient
from .facts import ManifestFacts
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
