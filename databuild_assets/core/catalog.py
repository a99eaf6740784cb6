"""The catalog: partitions, manifests, taints, builds and the build event log.

SQLite (a file, the default) or PostgreSQL (its own schema) through SQLAlchemy Core.
Every state change that matters is one transaction: a partition becomes live in the same
transaction that stores its manifest.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from . import catalog_configs as cc
from . import catalog_schema as s
from .catalog_configs import InputFacts, ManifestFacts  # noqa: F401 - their home was here
from .catalog_retry import log as _retry_log
from .catalog_retry import resilient, retrying
from .errors import CatalogError
from .manifest import PartitionManifest
from .procs import pid_alive

HOST = socket.gethostname()
LEASE_SECONDS = 30.0
SQLITE_BUSY_SECONDS = 60.0  # how long a write waits for another process's lock
_CHUNK = 500
_READ_CHUNK = 5000  # keys per IN (...) of a read: well under SQLite's 32766 variables


@dataclass(frozen=True)
class PartitionRow:
    ref: str
    dataset: str
    state: str
    manifest_id: str | None = None
    data_version: str | None = None
    owner: str | None = None
    updated_at: float = 0.0
    error: str | None = None
    attempts: int = 0
    prev_state: str | None = None


@dataclass(frozen=True)
class Event:
    build_id: str
    kind: str
    ref: str | None = None
    job: str | None = None
    detail: dict = field(default_factory=dict)
    ts: float = 0.0


def _chunks(items: list, n: int = _CHUNK) -> Iterator[list]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


_ROW_FIELDS = tuple(PartitionRow.__dataclass_fields__)


def _row(r) -> PartitionRow:
    """A PartitionRow from a row of the _ROW_FIELDS columns in that order, without the
    frozen dataclass's per-field object.__setattr__ (a third of reading 100k rows)."""
    row = object.__new__(PartitionRow)
    row.__dict__.update(zip(_ROW_FIELDS, r, strict=True))
    return row


class Catalog:
    """Open with ``Catalog.open(url)``; ``sqlite:///path`` or ``postgresql://...``."""

    def __init__(self, engine: sa.Engine, url: str, read_engine: sa.Engine | None = None,
                 raw_url: str | None = None):
        self.engine = engine
        self._raw_url = raw_url or url
        self._read_engine = read_engine or engine
        self.url = url
        self.dialect = engine.dialect.name
        self._configs = cc.ConfigTexts()
        self._migrate()

    @classmethod
    def open(cls, url: str) -> Catalog:
        try:
            parsed = make_url(url)
        except (sa.exc.ArgumentError, ValueError):  # no URL, or a bad port
            raise CatalogError(
                f"catalog URL {url!r} is not valid; use sqlite:///path/catalog.db or "
                "postgresql://user@host:5432/db"
            ) from None
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            cat = cls._open_sqlite(parsed)
        elif backend in ("postgresql", "postgres"):
            cat = cls._open_postgres(parsed)
        else:
            raise CatalogError(f"unsupported catalog backend {backend!r}; use sqlite or postgresql")
        cat._raw_url = url
        return cat

    def shareable_url(self) -> str:
        """The URL to hand to another process, unless it embeds a password (then '')."""
        return "" if make_url(self._raw_url).password else self._raw_url

    @classmethod
    def _open_sqlite(cls, url) -> Catalog:
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)

        def make(immediate: bool) -> sa.Engine:
            eng = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})

            @sa.event.listens_for(eng, "connect")
            def _connect(dbapi_conn, _rec):
                dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
                dbapi_conn.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
                dbapi_conn.execute("PRAGMA journal_mode=WAL")
                dbapi_conn.execute("PRAGMA synchronous=NORMAL")

            @sa.event.listens_for(eng, "begin")
            def _begin(conn):
                conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

            return eng

        return cls(make(True), url.render_as_string(hide_password=True), make(False))

    @classmethod
    def _open_postgres(cls, url) -> Catalog:
        schema = url.query.get("schema", "databuild")
        url = url.difference_update_query(["schema"]).set(drivername="postgresql+psycopg2")
        eng = sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
        try:
            with eng.begin() as conn:
                conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        except sa.exc.OperationalError as e:
            raise CatalogError(
                f"cannot reach the PostgreSQL catalog at "
                f"{url.render_as_string(hide_password=True)}: {' '.join(str(e.orig).split())}; check "
                "that the server runs and DATABUILD_CATALOG_URL is right"
            ) from None
        eng = eng.execution_options(schema_translate_map={None: schema})
        return cls(eng, url.render_as_string(hide_password=True))

    # -- schema -------------------------------------------------------------------------
    @contextmanager
    def tx(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self._read_engine.begin() as conn:
            yield conn

    @resilient
    def schema_version(self) -> int:
        with self._read() as conn:
            schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
            if not sa.inspect(conn).has_table(s.schema_info.name, schema=schema):
                return 0
            return conn.execute(sa.select(s.schema_info.c.version)).scalar() or 0

    @resilient
    def _migrate(self) -> None:
        with self.tx() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(4242001)"))
            s.metadata.create_all(conn, tables=[s.schema_info])
            current = conn.execute(sa.select(s.schema_info.c.version)).scalar() or 0
            if current > s.LATEST:
                raise CatalogError(
                    f"catalog {self.url} is at schema version {current}, newer than this "
                    f"databuild ({s.LATEST}); upgrade databuild"
                )
            for version, _desc, fn in s.MIGRATIONS:
                if version > current:
                    fn(conn)
            if current == 0:
                conn.execute(sa.insert(s.schema_info).values(id=1, version=s.LATEST))
            elif current < s.LATEST:
                conn.execute(sa.update(s.schema_info).values(version=s.LATEST))

    def dispose(self) -> None:
        self.engine.dispose()
        self._read_engine.dispose()

    # -- builds ---------------------------------------------------------------------------
    @resilient
    def start_build(self, build_id: str, requested: list[str], origin: str = "api",
                    events: Iterable[Event] = (), status: str = "running") -> None:
        """Record the build and log ``events`` (its request and plan) in one transaction; a
        ``status`` other than running records a build that is already over (a null build:
        nothing to run), so it costs one commit."""
        now = time.time()
        with self.tx() as conn:
            conn.execute(sa.insert(s.builds).values(
                build_id=build_id, started_at=now, heartbeat_at=now, host=HOST,
                pid=os.getpid(), status=status, requested=json.dumps(requested[:1000]),
                origin=origin, finished_at=None if status == "running" else now))
            self._log(conn, list(events))

    @resilient
    def heartbeat(self, build_id: str) -> None:
        with self.tx() as conn:
            conn.execute(sa.update(s.builds).where(s.builds.c.build_id == build_id)
                         .values(heartbeat_at=time.time()))

    @resilient
    def finish_build(self, build_id: str, status: str) -> None:
        with self.tx() as conn:
            conn.execute(sa.update(s.builds).where(s.builds.c.build_id == build_id)
                         .values(status=status, finished_at=time.time()))
            # whatever this build still holds goes back to its previous state
            self._release_owned(conn, build_id)

    @resilient
    def builds(self, limit: int = 50) -> list[dict]:
        with self._read() as conn:
            rows = conn.execute(sa.select(s.builds).order_by(s.builds.c.started_at.desc())
                                .limit(limit)).mappings().all()
        return [dict(r) for r in rows]

    @resilient
    def build_statuses(self, build_ids: Iterable[str]) -> dict[str, str]:
        """{build id: running|succeeded|failed}; a build that died still says running."""
        ids = sorted(set(b for b in build_ids if b))
        out: dict[str, str] = {}
        with self._read() as conn:
            for chunk in _chunks(ids):
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
        with self._read() as conn:
            for chunk in _chunks(ids):
                alive |= self._alive_in(conn, set(chunk))
        return alive

    def _alive_in(self, conn: sa.Connection, ids: set[str]) -> set[str]:
        alive, now = set(), time.time()
        for b in conn.execute(sa.select(s.builds).where(s.builds.c.build_id.in_(sorted(ids)))):
            if b.status == "running" and now - b.heartbeat_at <= LEASE_SECONDS and (
                b.host != HOST or pid_alive(b.pid)
            ):
                alive.add(b.build_id)
        return alive

    # -- partitions -------------------------------------------------------------------------
    def _insert_ignore(self, conn: sa.Connection, rows: list[dict]) -> None:
        if not rows:
            return
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        conn.execute(insert(s.partitions).on_conflict_do_nothing(), rows)

    @resilient
    def partitions(self, refs: Iterable[str]) -> dict[str, PartitionRow]:
        refs = sorted(set(refs))
        out: dict[str, PartitionRow] = {}
        with self._read() as conn:
            for r in self._fetch_in(conn, s.partitions, _ROW_FIELDS, "ref", refs):
                out[r[0]] = _row(r)
        return out

    def _fetch_in(self, conn: sa.Connection, table: sa.Table, columns, key: str,
                  keys: list[str]) -> Iterator[tuple]:
        """SELECT columns FROM table WHERE key IN keys, straight through the DBAPI cursor:
        SQLAlchemy's per-row and per-parameter work was most of a 100k-partition status."""
        cols = ", ".join(columns)
        schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
        name = f'"{schema}".{table.name}' if schema else table.name
        cur = conn.connection.driver_connection.cursor()
        dialect = self.engine.dialect
        try:
            for chunk in _chunks(keys, _READ_CHUNK):
                try:
                    if self.dialect == "postgresql":
                        cur.execute(f"SELECT {cols} FROM {name} WHERE {key} = ANY(%s)", (chunk,))
                    else:
                        marks = ",".join("?" * len(chunk))
                        cur.execute(f"SELECT {cols} FROM {name} WHERE {key} IN ({marks})", chunk)
                    rows = cur.fetchall()
                except dialect.loaded_dbapi.Error as e:  # wrapped as SQLAlchemy would
                    lost = dialect.is_disconnect(e, conn.connection.dbapi_connection, cur)
                    if lost:
                        conn.invalidate()
                    raise sa.exc.DBAPIError.instance(
                        None, None, e, dialect.loaded_dbapi.Error, connection_invalidated=lost,
                        dialect=dialect) from e
                yield from rows
        finally:
            try:
                cur.close()
            except Exception:  # noqa: BLE001 - a cursor of a dead connection
                pass

    @resilient
    def partitions_of(self, dataset: str | None = None) -> list[PartitionRow]:
        q = sa.select(*[s.partitions.c[f] for f in _ROW_FIELDS]).order_by(s.partitions.c.ref)
        if dataset:
            q = q.where(s.partitions.c.dataset == dataset)
        with self._read() as conn:
            return [_row(r) for r in conn.execute(q)]

    @resilient
    def claim(self, refs: dict[str, str], build_id: str) -> str | None:
        """Make ``build_id`` the builder of all refs ({ref: dataset}), or none of them.

        Returns None on success, or the id of the live build that already holds one.
        """
        now = time.time()
        with self.tx() as conn:
            self._insert_ignore(conn, [
                {"ref": r, "dataset": d, "state": "missing", "updated_at": now, "attempts": 0}
                for r, d in refs.items()])
            q = sa.select(s.partitions).where(s.partitions.c.ref.in_(list(refs)))
            if self.dialect == "postgresql":
                q = q.with_for_update()
            rows = conn.execute(q).all()
            others = {r.owner for r in rows
                      if r.state == "building" and r.owner and r.owner != build_id}
            holders = self._alive_in(conn, others) if others else set()
            if holders:
                return sorted(holders)[0]
            p = s.partitions.c
            conn.execute(sa.update(s.partitions).where(p.ref.in_(list(refs))).values(
                prev_state=sa.case((p.state == "building", p.prev_state), else_=p.state),
                state="building", owner=build_id, updated_at=now, attempts=p.attempts + 1))
        return None

    def _release_owned(self, conn: sa.Connection, build_id: str, refs: list[str] | None = None):
        p = s.partitions.c
        q = sa.update(s.partitions).where(p.owner == build_id, p.state == "building")
        if refs is not None:
            q = q.where(p.ref.in_(refs))
        conn.execute(q.values(state=sa.func.coalesce(p.prev_state, "missing"), owner=None,
                              updated_at=time.time()))

    @resilient
    def release(self, refs: Iterable[str], build_id: str) -> None:
        with self.tx() as conn:
            self._release_owned(conn, build_id, sorted(refs))

    def commit(self, manifest: PartitionManifest, dataset: str,
               events: Iterable[Event] = ()) -> None:
        """Store the manifest and make the partition live, atomically."""
        self.commit_many([(manifest, dataset)], events)

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
        with self._read() as conn:
            have = {i: (ds, body) for i, ds, body in self._fetch_in(
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
        with self.tx() as conn:
            cc.store(conn, self.dialect, self._configs.unstored(distinct))
            conn.execute(sa.insert(s.manifests), [dict(
                manifest_id=m.manifest_id, ref=m.ref, dataset=ds, job=m.job,
                config_hash=m.config_hash, code_version=m.code_version,
                dataset_version=m.dataset_version, data_version=m.data_version,
                run_id=m.run_id, build_id=m.build_id, start_time=m.start_time,
                end_time=m.end_time, row_count=m.row_count, body=cc.body(m), path=m.path or None,
                size=m.size, config_key=key, mat_inputs=cc.mat_inputs(m))
                for (m, ds), key in zip(items, keys, strict=True)])
            self._insert_ignore(conn, [{"ref": m.ref, "dataset": ds, "state": "missing",
                                        "updated_at": now, "attempts": 0} for m, ds in items])
            q = sa.update(p).where(p.c.ref == sa.bindparam("b_ref")).values(
                state="live", prev_state=None, manifest_id=sa.bindparam("b_mid"),
                data_version=sa.bindparam("b_dv"), owner=None, error=None, updated_at=now)
            rows = [{"b_ref": m.ref, "b_mid": m.manifest_id, "b_dv": m.data_version}
                    for m, _ds in items]
            if len(rows) == 1:
                conn.execute(q, rows[0])
            else:
                conn.execute(q, rows)
            self._log(conn, events)
        self._configs.committed(distinct)

    @resilient
    def fail(self, refs: dict[str, str], build_id: str, error: str,
             events: Iterable[Event] = ()) -> None:
        """Record a failed attempt. A partition with a published manifest keeps it (the
        last good version stays live and readable, with the error noted); one without
        becomes ``failed``."""
        now = time.time()
        p = s.partitions.c
        with self.tx() as conn:
            self._insert_ignore(conn, [{"ref": r, "dataset": d, "state": "missing",
                                        "updated_at": now, "attempts": 0}
                                       for r, d in refs.items()])
            published = sa.and_(p.manifest_id.is_not(None), sa.or_(
                p.state == "live", sa.and_(p.state == "building",
                                           sa.func.coalesce(p.prev_state, "live") == "live")))
            conn.execute(sa.update(s.partitions).where(p.ref.in_(list(refs))).values(
                state=sa.case((published, "live"), else_="failed"), prev_state=None,
                owner=None, error=error[:4000], updated_at=now))
            self._log(conn, events)

    @resilient
    def mark_damaged(self, ref: str, manifest_id: str, why: str) -> None:
        """A reader found the published file of ``ref`` broken: stop offering it, so the
        planner rebuilds it (a claim in progress keeps going and restores "damaged")."""
        p = s.partitions.c
        with self.tx() as conn:
            conn.execute(sa.update(s.partitions).where(
                p.ref == ref, p.manifest_id == manifest_id, p.state == "live").values(
                state="damaged", error=f"damaged: {why}"[:4000], updated_at=time.time()))
            conn.execute(sa.update(s.partitions).where(
                p.ref == ref, p.manifest_id == manifest_id, p.state == "building").values(
                prev_state="damaged", error=f"damaged: {why}"[:4000]))

    @resilient
    def republish(self, manifest: PartitionManifest, dataset: str,
                  events: Iterable[Event] = ()) -> None:
        """Make an existing manifest the live version again (an action-cache hit)."""
        now = time.time()
        p = s.partitions
        with self.tx() as conn:
            self._insert_ignore(conn, [{"ref": manifest.ref, "dataset": dataset,
                                        "state": "missing", "updated_at": now, "attempts": 0}])
            conn.execute(sa.update(p).where(p.c.ref == manifest.ref).values(
                state="live", prev_state=None, manifest_id=manifest.manifest_id,
                data_version=manifest.data_version, owner=None, error=None, updated_at=now))
            self._log(conn, events)

    @resilient
    def action_candidates(self, refs: Iterable[str], config_hash: str, code_version: str,
                          limit: int = 10) -> dict[str, list[PartitionManifest]]:
        """Earlier manifests of each ref built by the same config and code, newest first."""
        m = s.manifests.c
        out: dict[str, list[PartitionManifest]] = {}
        with self._read() as conn:
            for chunk in _chunks(sorted(set(refs))):
                q = (sa.select(m.body, m.config_key).where(
                    m.ref.in_(chunk), m.config_hash == config_hash,
                    m.code_version == code_version).order_by(m.end_time.desc()))
                for man in cc.full_manifests(conn, self._configs, conn.execute(q)):
                    if len(out.setdefault(man.ref, [])) < limit:
                        out[man.ref].append(man)
        return out

    # -- manifests and taints -----------------------------------------------------------
    @resilient
    def manifests(self, ids: Iterable[str]) -> dict[str, PartitionManifest]:
        ids = sorted(set(i for i in ids if i))
        out = {}
        with self._read() as conn:
            for chunk in _chunks(ids):
                q = sa.select(s.manifests.c.body, s.manifests.c.config_key).where(
                    s.manifests.c.manifest_id.in_(chunk))
                for man in cc.full_manifests(conn, self._configs, conn.execute(q)):
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
        with self._read() as conn:
            for mid, code, dsv, dv, mat, path, size in self._fetch_in(
                    conn, s.manifests, cols, "manifest_id", ids):
                if mat is None:
                    old.append(mid)
                    continue
                out[mid] = ManifestFacts(mid, code, dsv, dv, cc.parse_mat_inputs(mat), path, size)
            cols = ("manifest_id", "code_version", "dataset_version", "data_version", "body",
                    "path", "size")
            for mid, code, dsv, dv, body, path, size in self._fetch_in(
                    conn, s.manifests, cols, "manifest_id", old):
                try:
                    inputs = cc.materialize_inputs(cc.input_records(body))
                except (KeyError, TypeError):  # not what the fast path expected: parse it all
                    inputs = cc.materialize_inputs(cc._loads(body).get("inputs", ()))
                if path is None:  # written before schema v3: the body has the path
                    path = cc._loads(body).get("path") or None
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
        with self._read() as conn:
            return cc.full_manifests(conn, self._configs, conn.execute(q))

    @resilient
    def taint(self, ref: str, manifest_id: str, reason: str, build_id: str = "taint") -> None:
        with self.tx() as conn:
            conn.execute(sa.delete(s.taints).where(s.taints.c.manifest_id == manifest_id))
            conn.execute(sa.insert(s.taints).values(manifest_id=manifest_id, ref=ref,
                                                    reason=reason, created_at=time.time()))
            self._log(conn, [Event(build_id, "tainted", ref, detail={"reason": reason,
                                                                     "manifest_id": manifest_id})])

    @resilient
    def any_taints(self) -> bool:
        with self._read() as conn:
            return conn.execute(sa.select(s.taints.c.manifest_id).limit(1)).first() is not None

    @resilient
    def taints(self, manifest_ids: Iterable[str]) -> dict[str, str]:
        ids = sorted(set(i for i in manifest_ids if i))
        out = {}
        with self._read() as conn:
            if len(ids) > _READ_CHUNK:  # taints are few: read them all rather than probe
                total = conn.execute(sa.select(sa.func.count()).select_from(s.taints)).scalar()
                if total < len(ids):
                    wanted = set(ids)
                    q = sa.select(s.taints.c.manifest_id, s.taints.c.reason)
                    return {m: r for m, r in conn.execute(q).all() if m in wanted}
            for chunk in _chunks(ids, _READ_CHUNK):
                q = sa.select(s.taints.c.manifest_id, s.taints.c.reason).where(
                    s.taints.c.manifest_id.in_(chunk))
                out.update(dict(conn.execute(q).all()))
        return out

    # -- events ---------------------------------------------------------------------------
    def _log(self, conn: sa.Connection, events: Iterable[Event]) -> None:
        now, texts = time.time(), {}  # a detail dict shared by many events is dumped once
        rows = [(e.build_id, e.ts or now, e.kind, e.ref, e.job,
                 _detail_text(e.detail, texts) if e.detail else None) for e in events]
        if not rows:
            return
        if self.dialect == "sqlite" and len(rows) > 1:  # sqlite3's executemany, in C
            conn.exec_driver_sql(f"INSERT INTO {s.events.name} (build_id, ts, kind, ref, job, "
                                 "detail) VALUES (?, ?, ?, ?, ?, ?)", rows)
        else:  # PostgreSQL: SQLAlchemy batches the rows into multi-VALUES statements
            keys = ("build_id", "ts", "kind", "ref", "job", "detail")
            conn.execute(sa.insert(s.events), [dict(zip(keys, r, strict=True)) for r in rows])

    @resilient
    def log(self, events: Iterable[Event]) -> None:
        events = list(events)
        if events:
            with self.tx() as conn:
                self._log(conn, events)

    @resilient
    def events(self, build_id: str | None = None, ref: str | None = None,
               limit: int = 200) -> list[Event]:
        e = s.events.c
        q = sa.select(s.events).order_by(e.id.desc()).limit(limit)
        if build_id:
            q = q.where(e.build_id == build_id)
        if ref:
            q = q.where(e.ref == ref)
        with self._read() as conn:
            rows = conn.execute(q).all()
        return [Event(r.build_id, r.kind, r.ref, r.job, json.loads(r.detail) if r.detail else {},
                      r.ts) for r in reversed(rows)]


def _detail_text(detail: dict, texts: dict[int, str]) -> str:
    """json of an event's detail, memoized by identity within one ``_log`` call (a null
    build logs one shared detail for each of its skipped refs)."""
    text = texts.get(id(detail))
    if text is None:
        text = texts[id(detail)] = json.dumps(detail, default=str)
    return text
