"""Catalog tables and the ordered migrations that create and evolve them.

Migrations are plain functions keyed by version and applied in one transaction each under
a lock, so several processes may open a new catalog at once. See docs/decisions.md for why
this is not Alembic.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

metadata = sa.MetaData()

schema_info = sa.Table(
    "databuild_schema",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("version", sa.Integer, nullable=False),
)

partitions = sa.Table(
    "partitions",
    metadata,
    sa.Column("ref", sa.String(512), primary_key=True),
    sa.Column("dataset", sa.String(200), nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False),  # missing|building|live|failed|damaged
    sa.Column("prev_state", sa.String(16)),
    sa.Column("manifest_id", sa.String(32)),
    sa.Column("data_version", sa.String(64)),
    sa.Column("owner", sa.String(64), index=True),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
)

manifests = sa.Table(
    "manifests",
    metadata,
    sa.Column("manifest_id", sa.String(32), primary_key=True),
    sa.Column("ref", sa.String(512), nullable=False, index=True),
    sa.Column("dataset", sa.String(200), nullable=False, index=True),
    sa.Column("job", sa.String(200), nullable=False),
    sa.Column("config_hash", sa.String(64), nullable=False),
    sa.Column("code_version", sa.String(64), nullable=False),
    sa.Column("dataset_version", sa.String(32), nullable=False),
    sa.Column("data_version", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("build_id", sa.String(64), index=True),
    sa.Column("start_time", sa.Float),
    sa.Column("end_time", sa.Float, index=True),
    sa.Column("row_count", sa.BigInteger),
    sa.Column("body", sa.Text, nullable=False),  # the whole manifest as JSON
    sa.Column("path", sa.Text),  # data file, relative to the data root (v3)
    sa.Column("size", sa.BigInteger),  # its bytes: status compares it (v3)
    sa.Column("config_key", sa.String(32)),  # its config in ``configs`` (v4; NULL: in body)
    # [[ref, manifest id, data version], ...] of its MATERIALIZE inputs: what status reads (v4)
    sa.Column("mat_inputs", sa.Text),
)

taints = sa.Table(
    "taints",
    metadata,
    sa.Column("manifest_id", sa.String(32), primary_key=True),
    sa.Column("ref", sa.String(512), nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

events = sa.Table(
    "build_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("build_id", sa.String(64), nullable=False, index=True),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("ref", sa.String(512), index=True),
    sa.Column("job", sa.String(200)),
    sa.Column("detail", sa.Text),
)

builds = sa.Table(
    "builds",
    metadata,
    sa.Column("build_id", sa.String(64), primary_key=True),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("heartbeat_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # running|succeeded|failed
    sa.Column("requested", sa.Text),
    sa.Column("origin", sa.String(32)),  # cli|dagster|api|sensor
)

V1_TABLES = [partitions, manifests, taints, events, builds]


def _v1(conn: sa.Connection) -> None:
    metadata.create_all(conn, tables=V1_TABLES)


# -- migration 2: automation (wants, retries, notifications) -------------------------------
wants = sa.Table(
    "wants",
    metadata,
    sa.Column("want_id", sa.String(64), primary_key=True),
    sa.Column("refs", sa.Text, nullable=False),  # JSON list of refs
    sa.Column("n_refs", sa.Integer, nullable=False),
    sa.Column("data_ts", sa.Float),  # what time the data is "as of": the SLA clock starts here
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("ttl_seconds", sa.Float),
    sa.Column("expires_at", sa.Float, index=True),  # NULL: never
    sa.Column("sla_seconds", sa.Float),
    sa.Column("source", sa.String(200), nullable=False),  # cli|api|cron:<name>
    sa.Column("comment", sa.Text),
    sa.Column("state", sa.String(16), nullable=False, index=True),  # active|satisfied|expired|cancelled
    sa.Column("satisfied_at", sa.Float),
    sa.Column("closed_at", sa.Float),
    sa.Column("sla_breached_at", sa.Float),
    sa.Column("sla_notified", sa.Integer, nullable=False, server_default="0"),
    sa.Column("failure_notified", sa.Integer, nullable=False, server_default="0"),
)

want_attempts = sa.Table(  # retry state per ref, whoever launched the failed run
    "want_attempts",
    metadata,
    sa.Column("ref", sa.String(512), primary_key=True),
    sa.Column("attempts", sa.Integer, nullable=False),  # failed attempts so far
    sa.Column("failure_class", sa.String(16)),  # retriable|permanent|unknown
    sa.Column("error", sa.Text),
    sa.Column("next_attempt_at", sa.Float),
    sa.Column("gave_up", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_run_id", sa.String(64)),
    sa.Column("updated_at", sa.Float, nullable=False),
)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("dedupe_key", sa.String(64), nullable=False, unique=True),  # at most one each
    sa.Column("kind", sa.String(32), nullable=False),  # sla_breach|failed
    sa.Column("want_id", sa.String(64), index=True),
    sa.Column("ref", sa.String(512)),
    sa.Column("dataset", sa.String(200), index=True),
    sa.Column("day", sa.String(10), index=True),  # UTC date, for misses per dataset per day
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("delivered_at", sa.Float),
    sa.Column("delivery_attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
)

V2_TABLES = [wants, want_attempts, notifications]


def _v2(conn: sa.Connection) -> None:
    metadata.create_all(conn, tables=V2_TABLES)


# -- migration 3: data file path and size per manifest (damage detection, action cache) ---
def _v3(conn: sa.Connection) -> None:
    schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
    have = {c["name"] for c in sa.inspect(conn).get_columns(manifests.name, schema=schema)}
    name = f'"{schema}".{manifests.name}' if schema else manifests.name
    for col, kind in (("path", "TEXT"), ("size", "BIGINT")):
        if col not in have:  # a catalog created at v3 has them already
            conn.execute(sa.text(f"ALTER TABLE {name} ADD COLUMN {col} {kind}"))
    conn.execute(sa.text(f"CREATE INDEX IF NOT EXISTS ix_manifests_action ON {name} "
                         "(ref, config_hash)"))


# -- migration 4: each distinct job config stored once -------------------------------------
configs = sa.Table(  # a manifest's config by content key: a 31-day config is not stored 31 times
    "configs",
    metadata,
    sa.Column("config_key", sa.String(32), primary_key=True),
    sa.Column("job", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the config as stored in manifests (JSON)
)


def _v4(conn: sa.Connection) -> None:
    """Manifests written before keep their embedded config and have no mat_inputs (readers
    take both from the body when NULL): no rewrite of a big catalog while every process
    waits on the migration lock."""
    metadata.create_all(conn, tables=[configs])
    schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
    have = {c["name"] for c in sa.inspect(conn).get_columns(manifests.name, schema=schema)}
    name = f'"{schema}".{manifests.name}' if schema else manifests.name
    for col, kind in (("config_key", "VARCHAR(32)"), ("mat_inputs", "TEXT")):
        if col not in have:  # a catalog created at v4 has them already
            conn.execute(sa.text(f"ALTER TABLE {name} ADD COLUMN {col} {kind}"))


MIGRATIONS: list[tuple[int, str, Callable[[sa.Connection], None]]] = [
    (1, "partitions, manifests, taints, build events, builds", _v1),
    (2, "wants, want attempts (retries), notifications", _v2),
    (3, "manifest data file path and size; action-key index", _v3),
    (4, "job configs stored once each, referenced by manifests", _v4),
]
LATEST = MIGRATIONS[-1][0]
