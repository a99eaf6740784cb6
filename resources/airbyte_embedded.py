"""Embedded mode: PyAirbyte runs the real connector (installed lazily from PyPI into its own
virtualenv under the project's state folder) and writes the streams into the warehouse target
(a DuckDB file or PostgreSQL) through a PyAirbyte cache in the connection's schema. Here: the
sync (with its deadline and cancellation) and the clear; the connector itself is handled in
``airbyte_connector``."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from .airbyte_config import MissingSecret, resolve_refs
from .airbyte_connector import (
    connector_source,
    describe_error,
    guard_process,
    import_airbyte,
    make_stoppable,
    private_logs,
    terminate_children,
    warehouse_cache,
)
from .airbyte_model import AirbyteConnection, Redactor, SafeLog, SyncOutcome

STOP_GRACE_S = 10.0  # how long a stopped connector gets before it is terminated

def _outcome(conn: AirbyteConnection, operation: str, status: str, message: str, log: SafeLog,
             **kw) -> SyncOutcome:
    message = log.redact(message)
    (log.info if status == "succeeded" else log.error)(message)
    if status != "succeeded":
        kw.setdefault("error", {"timed_out": "timeout", "cancelled": "cancelled"}.get(
            status, "connector"))
    return SyncOutcome(connection=conn.name, mode="embedded", operation=operation,
                       status=status, message=message, **kw)


def embedded_sync(conn: AirbyteConnection, target, *, timeout: float, log,
                  cancel_event: threading.Event | None, env: Mapping[str, str] | None,
                  install_root: Path) -> SyncOutcome:
    redactor = Redactor()
    slog = SafeLog(log, redactor, f"airbyte {conn.name}: ")
    where = f"{conn.source} -> {getattr(target, 'name', '?')} schema {conn.schema}"
    if target is None or getattr(target, "type", None) not in ("duckdb", "postgres"):
        return _outcome(conn, "sync", "failed", "embedded mode needs a duckdb or postgres "
                        "warehouse target for the pipeline", slog)
    try:
        config, secrets = resolve_refs(conn.config, env)
        password = target.password(dict(env) if env is not None else None) \
            if target.type == "postgres" else ""
    except MissingSecret as e:
        return _outcome(conn, "sync", "failed", f"secret(s) {', '.join(e.names)} referenced in "
                        "the connector config are not set: export them or put them in "
                        "DATABUILD_SECRETS_FILE", slog)
    except Exception as e:  # noqa: BLE001 - the target's own ConfigError names the variable
        return _outcome(conn, "sync", "failed", str(e), slog)
    for value in [*secrets, password, quote(password, safe="")]:
        redactor.add(value)
    install_root.mkdir(parents=True, exist_ok=True)
    cache = None
    try:
        ab = import_airbyte(install_root, slog)
        try:
            source, home = connector_source(ab, conn, config, install_root, slog)
        except Exception as e:  # noqa: BLE001 - pip and the connector raise anything: a failed sync
            return _outcome(conn, "sync", "failed", f"could not install or start connector "
                            f"{conn.source} from {conn.pip_url!r}: {describe_error(e)}", slog)
        private_logs(source, redactor)
        cache = warehouse_cache(ab, conn, target, password, install_root)
        return _read(conn, source, cache, home, where, timeout=timeout, log=slog,
                     cancel_event=cancel_event)
    except Exception as e:  # noqa: BLE001 - PyAirbyte's errors have no common base: a failed sync
        return _outcome(conn, "sync", "failed", f"embedded sync {where} failed: {describe_error(e)}", slog)
    finally:
        if cache is not None:
            with contextlib.suppress(Exception):
                cache.close()  # releases the DuckDB file lock for dbt and others


def _read(conn, source, cache, home: Path, where: str, *, timeout: float, log: SafeLog,
          cancel_event: threading.Event | None) -> SyncOutcome:
    stop = threading.Event()
    guard_process(source)
    make_stoppable(source, stop)
    box: dict = {}

    def work():
        try:
            if conn.streams == "*":
                source.select_all_streams()
            else:
                source.select_streams(list(conn.streams))
            res = source.read(cache=cache, write_strategy=conn.write_strategy,
                              force_full_refresh=conn.full_refresh)
            tracker = getattr(res, "_progress_tracker", None)
            counts = dict(getattr(tracker, "stream_read_counts", {}) or {})
            box["result"] = (res.processed_records, tuple(res.streams), counts)
        except BaseException as e:  # noqa: BLE001 - reported by the caller
            box["error"] = e

    worker = threading.Thread(target=work, name=f"airbyte-{conn.name}", daemon=True)
    deadline = time.monotonic() + timeout
    worker.start()
    reason = None
    try:
        while worker.is_alive():
            if cancel_event is not None and cancel_event.is_set():
                reason = "cancelled"
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                reason = "timed_out"
                break
            worker.join(min(0.2, remaining))
    except BaseException:  # run termination: stop the connector, then let it propagate
        _halt(worker, stop, home)
        raise
    if reason:
        stopped = _halt(worker, stop, home)
        why = "cancelled by run termination" if reason == "cancelled" else \
            f"timed out after {timeout:g} s"
        tail = "" if stopped else "; the connector did not stop within the grace period"
        return _outcome(conn, "sync", reason, f"embedded sync {where} {why}; the connector was "
                        f"stopped and nothing was finalized in the warehouse{tail}", log)
    if "error" in box:
        return _outcome(conn, "sync", "failed", f"embedded sync {where} failed: "
                        f"{describe_error(box['error'])}", log)
    records, streams, counts = box["result"]
    per = ", ".join(f"{s}: {counts.get(s, 0)}" for s in streams)
    return _outcome(conn, "sync", "succeeded", f"read {records} records ({per}) with {where}",
                    log, records=records, streams=streams,
                    stream_records={s: counts.get(s, 0) for s in streams})


def _halt(worker: threading.Thread, stop: threading.Event, home: Path) -> bool:
    stop.set()
    worker.join(STOP_GRACE_S)
    if worker.is_alive():
        terminate_children(str(home))
        worker.join(30)
    return not worker.is_alive()


def embedded_clear(conn: AirbyteConnection, target, *, streams: list[str] | None, log,
                   env: Mapping[str, str] | None) -> SyncOutcome:
    """Drop the streams' tables from the connection's schema and forget their state, so the
    next sync starts from scratch. Without ``streams``, every stream synced into the schema."""
    import sqlalchemy as sa

    redactor = Redactor()
    slog = SafeLog(log, redactor, f"airbyte {conn.name}: ")
    if target is None:
        return _outcome(conn, "clear", "failed", "embedded mode needs a warehouse target", slog)
    try:
        if target.type == "postgres":
            redactor.add(target.password(dict(env) if env is not None else None))
        url = target.sqlalchemy_url(dict(env) if env is not None else None)
    except Exception as e:  # noqa: BLE001 - a target's secret or URL: reported as a failed clear
        return _outcome(conn, "clear", "failed", str(e), slog)
    schema = conn.schema
    q = '"{}"'.format
    engine = sa.create_engine(url)
    try:
        with engine.begin() as c:
            present = {r[0] for r in c.execute(sa.text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                {"s": schema})}
            synced: dict[str, str] = {}
            if "_airbyte_streams" in present:
                synced = dict(c.execute(sa.text(
                    f"SELECT stream_name, table_name FROM {q(schema)}._airbyte_streams")).all())
            chosen = list(streams) if streams else sorted(synced)
            unknown = [s for s in chosen if s not in synced]
            if unknown:
                return _outcome(conn, "clear", "failed", f"cannot clear stream(s) "
                                f"{', '.join(unknown)}: never synced into schema {schema} of "
                                f"target {target.name} (synced: {', '.join(sorted(synced)) or 'none'})",
                                slog)
            for s in chosen:
                table = synced[s].replace('"', '""')
                c.execute(sa.text(f"DROP TABLE IF EXISTS {q(schema)}.{q(table)}"))
                c.execute(sa.text(f"DELETE FROM {q(schema)}._airbyte_streams "
                                  "WHERE stream_name = :n"), {"n": s})
                if "_airbyte_state" in present:
                    c.execute(sa.text(f"DELETE FROM {q(schema)}._airbyte_state "
                                      "WHERE stream_name = :n"), {"n": s})
            if not streams and "_airbyte_state" in present:
                c.execute(sa.text(f"DELETE FROM {q(schema)}._airbyte_state"))
    except Exception as e:  # noqa: BLE001 - any driver error: reported as a failed clear
        return _outcome(conn, "clear", "failed", f"clearing schema {schema} of target "
                        f"{target.name} failed: {describe_error(e)}", slog)
    finally:
        engine.dispose()
    what = ", ".join(chosen) if chosen else "nothing (no stream was synced yet)"
    return _outcome(conn, "clear", "succeeded", f"cleared {what} from schema {schema} of target "
                    f"{target.name}", slog, streams=tuple(chosen))
