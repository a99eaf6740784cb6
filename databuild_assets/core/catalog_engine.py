"""The catalog's database: SQLite (a file, the default) or PostgreSQL (its own schema)
through SQLAlchemy Core, opened from a URL and migrated on open.

Every part of the catalog works through one ``Database``: ``tx()`` for a write transaction
(SQLite: BEGIN IMMEDIATE, so writers queue instead of failing to upgrade a lock), ``read()``
for reads (SQLite: a second engine with plain BEGIN), ``fetch_in`` for big keyed reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from . import catalog_schema as s
from .catalog_retry import resilient
from .errors import CatalogError

SQLITE_BUSY_SECONDS = 60.0  # how long a write waits for another process's lock
CHUNK = 500
READ_CHUNK = 5000  # keys per IN (...) of a read: well under SQLite's 32766 variables


def chunks(items: list, n: int = CHUNK) -> Iterator[list]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def open_engines(url: str) -> tuple[sa.Engine, str, sa.Engine | None]:
    """(write engine, URL without password, read engine or None) for a catalog URL."""
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError):  # no URL, or a bad port
        raise CatalogError(
            f"catalog URL {url!r} is not valid; use sqlite:///path/catalog.db or "
            "postgresql://user@host:5432/db"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _open_sqlite(parsed)
    if backend in ("postgresql", "postgres"):
        return _open_postgres(parsed)
    raise CatalogError(f"unsupported catalog backend {backend!r}; use sqlite or postgresql")


def _open_sqlite(url) -> tuple[sa.Engine, str, sa.Engine]:
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

    return make(True), url.render_as_string(hide_password=True), make(False)


def _open_postgres(url) -> tuple[sa.Engine, str, None]:
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
    return eng, url.render_as_string(hide_password=True), None


class Database:
    """Engines of one catalog, its transactions and the dialect-specific statements."""

    def __init__(self, engine: sa.Engine, url: str, read_engine: sa.Engine | None = None,
                 raw_url: str | None = None):
        self.engine = engine
        self.read_engine = read_engine or engine
        self.url = url
        self.raw_url = raw_url or url
        self.dialect = engine.dialect.name

    def shareable_url(self) -> str:
        """The URL to hand to another process, unless it embeds a password (then '')."""
        return "" if make_url(self.raw_url).password else self.raw_url

    @contextmanager
    def tx(self) -> Iterator[sa.Connection]:
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        with self.read_engine.begin() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()
        self.read_engine.dispose()

    def insert_ignore(self, table: sa.Table):
        """INSERT ... ON CONFLICT DO NOTHING into ``table``."""
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        return insert(table).on_conflict_do_nothing()

    def fetch_in(self, conn: sa.Connection, table: sa.Table, columns, key: str,
                 keys: list[str]) -> Iterator[tuple]:
        """SELECT columns FROM table WHERE key IN keys, straight through the DBAPI cursor:
        SQLAlchemy's per-row and per-parameter work was most of a 100k-partition status."""
        head = f"SELECT {', '.join(columns)} FROM {self.table_name(conn, table)} WHERE {key}"
        return self.select_in(conn, head, keys)

    @staticmethod
    def table_name(conn: sa.Connection, table: sa.Table) -> str:
        """The table's name as raw SQL needs it (PostgreSQL: in the catalog's schema)."""
        schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
        return f'"{schema}".{table.name}' if schema else table.name

    def select_in(self, conn: sa.Connection, head: str, keys: list[str]) -> Iterator[tuple]:
        """Rows of ``head`` (raw SQL ending in ``WHERE <key expression>``) with that key in
        ``keys``, READ_CHUNK keys per statement."""
        cur = conn.connection.driver_connection.cursor()
        dialect = self.engine.dialect
        try:
            for chunk in chunks(keys, READ_CHUNK):
                try:
                    if self.dialect == "postgresql":
                        cur.execute(f"{head} = ANY(%s)", (chunk,))
                    else:
                        cur.execute(f"{head} IN ({','.join('?' * len(chunk))})", chunk)
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

    # -- schema ---------------------------------------------------------------------------
    @resilient
    def schema_version(self) -> int:
        with self.read() as conn:
            schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
            if not sa.inspect(conn).has_table(s.schema_info.name, schema=schema):
                return 0
            return conn.execute(sa.select(s.schema_info.c.version)).scalar() or 0

    @resilient
    def migrate(self) -> None:
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


class StorePart:
    """One part of the store (builds, partitions, manifests, taints, events, automation
    tables): the database it shares with the others and, for parts whose writes are logged,
    the event log. ``url`` is what ``catalog_retry`` names in its errors."""

    def __init__(self, db: Database, log=None):
        self.db = db
        if log is not None:  # not for EventLog itself, whose `log` is the method that logs
            self.log = log

    @property
    def url(self) -> str:
        return self.db.url
