"""Embedded mode: PyAirbyte runs the real connector (installed lazily from PyPI into its own
virtualenv under the project's state folder) and writes the streams into the warehouse target
(a DuckDB file or PostgreSQL) through a PyAirbyte cache in the connection's schema."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from .airbyte_config import MissingSecret, resolve_refs
from .airbyte_model import AirbyteConnection, Redactor, SafeLog, SyncOutcome

STOP_GRACE_S = 10.0  # how long a stopped connector gets before it is terminated


class _Stopped(Exception):
    """Raised inside the read to stop it before anything is finalized in the warehouse."""


def _outcome(conn: AirbyteConnection, operation: str, status: str, message: str, log: SafeLog,
             **kw) -> SyncOutcome:
    message = log.redact(message)
    (log.info if status == "succeeded" else log.error)(message)
    if status != "succeeded":
        kw.setdefault("error", {"timed_out": "timeout", "cancelled": "cancelled"}.get(
            status, "connector"))
    return SyncOutcome(connection=conn.name, mode="embedded", operation=operation,
                       status=status, message=message, **kw)


def _short(e: BaseException) -> str:
    """One readable line: PyAirbyte's own message, plus what the connector said (the error
    trace at the end of its log file) and where that log is."""
    get = getattr(e, "get_message", None)
    text = " ".join(str(get() if callable(get) else e).split())
    parts = [f"{type(e).__name__}: {text[:500]}{'...' if len(text) > 500 else ''}"]
    log_file = getattr(e, "log_file", None)
    said = _connector_said(Path(log_file)) if log_file else None
    if said:
        parts.append(f"connector said: {said[:500]}")
    if log_file:
        parts.append(f"connector log: {log_file}")
    return "; ".join(parts)


def _connector_said(log_file: Path) -> str | None:
    import json

    try:
        lines = log_file.read_text(errors="ignore").splitlines()[-300:]
    except OSError:
        return None
    for line in reversed(lines):
        start = line.find('{"type": "TRACE"')
        if start < 0:
            continue
        with contextlib.suppress(ValueError, KeyError, TypeError):
            err = json.loads(line[start:])["trace"]["error"]
            return " ".join(str(err.get("internal_message") or err.get("message")).split())
    return None


def _import_airbyte(root: Path, log: SafeLog):
    """PyAirbyte reads these at import time: set them (unless the user did) before the first
    import, never at import time of this module."""
    os.environ.setdefault("AIRBYTE_OFFLINE_MODE", "1")  # no registry lookups, no telemetry
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("AIRBYTE_LOGGING_ROOT", str(root / "logs"))
    os.environ.setdefault("AIRBYTE_TEMP_DIR", str(root / "tmp"))  # config files (0600)
    _use_uv()
    for folder in (os.environ["AIRBYTE_LOGGING_ROOT"], os.environ["AIRBYTE_TEMP_DIR"]):
        Path(folder).mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(folder, 0o700)  # connector logs and configs: this user only
    # airbyte_cdk's entrypoint runs logging.config.dictConfig on import, replacing the root
    # logger's handlers (Dagster's, pytest's) with its own JSON printer: put them back.
    root_logger = logging.getLogger()
    handlers, level = root_logger.handlers[:], root_logger.level
    try:
        import airbyte as ab
        from airbyte import constants
    finally:
        root_logger.handlers[:] = handlers
        root_logger.setLevel(level)

    if not constants.AIRBYTE_OFFLINE_MODE:
        log.warning("PyAirbyte was imported before AIRBYTE_OFFLINE_MODE=1 was set; connector "
                    "registry lookups may fail on machines without internet access")
    return ab


def _use_uv() -> None:
    """Install connectors with uv when it is at hand: seconds, where pip's resolver spent
    minutes backtracking over source-file's pins. PyAirbyte 0.35 reads AIRBYTE_NO_UV
    inverted ("1" turns uv on, airbyte/constants.py) and runs `uv` from PATH. A user's own
    AIRBYTE_NO_UV is left alone."""
    import shutil

    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None or "AIRBYTE_NO_UV" in os.environ:
        return
    os.environ["AIRBYTE_NO_UV"] = "1"
    folder = str(Path(uv).parent)
    if folder not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = folder + os.pathsep + os.environ.get("PATH", "")


def install_connector(source: str, pip_url: str, install_root: Path, log=None) -> Path:
    """Install a connector where embedded syncs look for it, before a build needs it (the
    demo reports the install time on its own); nothing to do when it is installed."""
    from types import SimpleNamespace

    slog = SafeLog(log, Redactor(), f"airbyte {source}: ")
    install_root.mkdir(parents=True, exist_ok=True)
    ab = _import_airbyte(install_root, slog)
    _, home = _source(ab, SimpleNamespace(source=source, pip_url=pip_url), {}, install_root,
                      slog)
    return home


def _source(ab, conn: AirbyteConnection, config: dict, root: Path, log: SafeLog):
    """The connector, installed on first use. One folder per pip_url, so changing the pin
    installs the new version beside the old one; a file lock keeps concurrent installs apart."""
    key = hashlib.sha256(conn.pip_url.encode()).hexdigest()[:12]
    home = root / "connectors" / f"{conn.source}-{key}"
    home.mkdir(parents=True, exist_ok=True)
    with open(home / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (home / f".venv-{conn.source}").exists():
            log.info(f"installing connector {conn.source} ({conn.pip_url}) into {home}; "
                     "first use only, this can take a minute")
        source = ab.get_source(conn.source, config=config, pip_url=conn.pip_url,
                               install_if_missing=True, install_root=home)
    return source, home


class _RedactRecords(logging.Filter):
    """Redacts every record PyAirbyte writes to its log files (the connector's own output
    included, which may echo its config)."""

    def __init__(self, redactor: Redactor):
        super().__init__("databuild-redact")
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redactor(record.getMessage()), ()
        return True


def _private_logs(source, redactor: Redactor) -> None:
    """Secrets out of PyAirbyte's log files: a redacting filter on every file handler of its
    loggers, and the files readable by this user only."""
    names = ["airbyte", "airbyte.stats", getattr(source, "_file_logger", logging.getLogger(
        "airbyte")).name]
    for name in names:
        for handler in logging.getLogger(name).handlers:
            handler.filters = [f for f in handler.filters if not isinstance(f, _RedactRecords)]
            handler.addFilter(_RedactRecords(redactor))
            path = getattr(handler, "baseFilename", None)
            if path:
                with contextlib.suppress(OSError):
                    os.chmod(path, 0o600)


def _cache(ab, conn: AirbyteConnection, target, password: str, root: Path):
    staging = root / "staging" / conn.name
    staging.mkdir(parents=True, exist_ok=True)
    if target.type == "duckdb":
        Path(target.path).parent.mkdir(parents=True, exist_ok=True)
        return ab.caches.DuckDBCache(db_path=target.path, schema_name=conn.schema,
                                     cache_dir=staging)
    return ab.caches.PostgresCache(host=target.host, port=int(target.port),
                                   username=target.user, password=quote(password, safe=""),
                                   database=target.database, schema_name=conn.schema,
                                   cache_dir=staging)


def _stoppable(source, stop: threading.Event) -> None:
    """Make the connector's message stream raise once ``stop`` is set, so PyAirbyte abandons
    the read (terminating the connector) instead of finalizing partial data."""
    execute = source.executor.execute

    def guarded(*args, **kwargs):
        for line in execute(*args, **kwargs):
            if stop.is_set():
                raise _Stopped()
            yield line
        if stop.is_set():
            raise _Stopped()

    source.executor.execute = guarded


def _guarded(source) -> None:
    """Start the connector under the task layer's process guard (resources/process_guard.py):
    its own process group, killed whole when this process dies, even by SIGKILL."""
    from .shell import GUARD

    executor = source.executor
    base = type(executor)
    if getattr(base, "_databuild_guarded", False):
        return
    plain = base._cli.fget

    def cli(self) -> list[str]:
        return [sys.executable, "-S", str(GUARD), str(os.getpid()), "--", *plain(self)]

    executor.__class__ = type(f"Guarded{base.__name__}", (base,),
                              {"_cli": property(cli), "_databuild_guarded": True})


def _terminate_children(marker: str) -> int:
    """SIGTERM this process's children whose command line contains ``marker`` (the
    connector's venv). For a connector that stays silent after a stop. Linux /proc only."""
    killed = 0
    me = os.getpid()
    for proc in Path("/proc").glob("[0-9]*"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == me and marker in (proc / "cmdline").read_bytes().decode(errors="ignore"):
                os.kill(int(proc.name), signal.SIGTERM)
                killed += 1
    return killed


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
        ab = _import_airbyte(install_root, slog)
        try:
            source, home = _source(ab, conn, config, install_root, slog)
        except Exception as e:  # noqa: BLE001 - pip and the connector raise anything: a failed sync
            return _outcome(conn, "sync", "failed", f"could not install or start connector "
                            f"{conn.source} from {conn.pip_url!r}: {_short(e)}", slog)
        _private_logs(source, redactor)
        cache = _cache(ab, conn, target, password, install_root)
        return _read(conn, source, cache, home, where, timeout=timeout, log=slog,
                     cancel_event=cancel_event)
    except Exception as e:  # noqa: BLE001 - PyAirbyte's errors have no common base: a failed sync
        return _outcome(conn, "sync", "failed", f"embedded sync {where} failed: {_short(e)}", slog)
    finally:
        if cache is not None:
            with contextlib.suppress(Exception):
                cache.close()  # releases the DuckDB file lock for dbt and others


def _read(conn, source, cache, home: Path, where: str, *, timeout: float, log: SafeLog,
          cancel_event: threading.Event | None) -> SyncOutcome:
    stop = threading.Event()
    _guarded(source)
    _stoppable(source, stop)
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
                        f"{_short(box['error'])}", log)
    records, streams, counts = box["result"]
    per = ", ".join(f"{s}: {counts.get(s, 0)}" for s in streams)
    return _outcome(conn, "sync", "succeeded", f"read {records} records ({per}) with {where}",
                    log, records=records, streams=streams,
                    stream_records={s: counts.get(s, 0) for s in streams})


def _halt(worker: threading.Thread, stop: threading.Event, home: Path) -> bool:
    stop.set()
    worker.join(STOP_GRACE_S)
    if worker.is_alive():
        _terminate_children(str(home))
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
                        f"{target.name} failed: {_short(e)}", slog)
    finally:
        engine.dispose()
    what = ", ".join(chosen) if chosen else "nothing (no stream was synced yet)"
    return _outcome(conn, "clear", "succeeded", f"cleared {what} from schema {schema} of target "
                    f"{target.name}", slog, streams=tuple(chosen))
