"""The PyAirbyte side of embedded mode: the connector installed into its own virtualenv,
started under the process guard, its log files redacted, its read made stoppable, and its
errors told in one line. ``airbyte_embedded`` runs syncs and clears with these.

Its own module because these hold what PyAirbyte requires of the process (environment
variables read at import, logger handlers, a patched executor), apart from the sync logic."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import signal
import sys
import threading
from pathlib import Path
from urllib.parse import quote

from .airbyte_model import AirbyteConnection, Redactor, SafeLog


class _Stopped(Exception):
    """Raised inside the read to stop it before anything is finalized in the warehouse."""


def describe_error(e: BaseException) -> str:
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


def import_airbyte(root: Path, log: SafeLog):
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
    # compile the connector's bytecode at install (pip does by default, uv only when told):
    # every sync starts the connector 3-4 times, and where nothing may write .pyc files
    # (PYTHONDONTWRITEBYTECODE, read-only folders) each start compiled pandas, pyarrow and
    # the CDK from source again (an added day's ingest: ~36 s instead of ~7 s)
    os.environ.setdefault("UV_COMPILE_BYTECODE", "1")
    folder = str(Path(uv).parent)
    if folder not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = folder + os.pathsep + os.environ.get("PATH", "")


def install_connector(source: str, pip_url: str, install_root: Path, log=None) -> Path:
    """Install a connector where embedded syncs look for it, before a build needs it (the
    demo reports the install time on its own); nothing to do when it is installed."""
    from types import SimpleNamespace

    slog = SafeLog(log, Redactor(), f"airbyte {source}: ")
    install_root.mkdir(parents=True, exist_ok=True)
    ab = import_airbyte(install_root, slog)
    _, home = connector_source(ab, SimpleNamespace(source=source, pip_url=pip_url), {}, install_root,
                      slog)
    return home


def connector_source(ab, conn: AirbyteConnection, config: dict, root: Path, log: SafeLog):
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


def private_logs(source, redactor: Redactor) -> None:
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


def warehouse_cache(ab, conn: AirbyteConnection, target, password: str, root: Path):
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


def make_stoppable(source, stop: threading.Event) -> None:
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


def guard_process(source) -> None:
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


def terminate_children(marker: str) -> int:
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
