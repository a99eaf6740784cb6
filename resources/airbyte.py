"""Airbyte tasks: one declared connection (a `connections:` entry of pipelines.yaml) synced or
cleared per run. Three modes:

- ``embedded`` (default when no server is configured): PyAirbyte runs the real connector in
  process and writes the streams into the pipeline's warehouse target.
- ``server``: a self-hosted Airbyte, through dagster-airbyte's ``AirbyteWorkspace`` client.
- ``cloud``: Airbyte Cloud, through dagster-airbyte's ``AirbyteCloudWorkspace`` config.

The client objects are built for each call and thrown away. Secrets are referenced by
environment variable name (``client_secret_env: AIRBYTE_SECRET``, ``${PG_PASSWORD}`` inside an
embedded connector's config), resolved at run time by ``core.secrets.env_secret`` and never logged or
returned: every message passes through :func:`redact`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from pathlib import Path

from databuild_assets.core.errors import ConfigError

from .airbyte_model import (
    STATUSES,
    AirbyteConnection,
    SyncOutcome,
    redact,
)


def sync(conn: AirbyteConnection, target, *, timeout: float, log=None,
         cancel_event: threading.Event | None = None, env: Mapping[str, str] | None = None,
         install_root: Path | None = None) -> SyncOutcome:
    """Sync one connection into ``target`` (a WarehouseTarget; used by embedded mode).

    Ends within ``timeout`` seconds (plus one request/stop grace period) with an outcome; the
    Airbyte job (or the embedded connector) is cancelled on timeout, when ``cancel_event`` is
    set, or when the calling thread is interrupted (run termination), which is re-raised.
    A one-time connector install in embedded mode is not counted against ``timeout``.
    """
    if timeout <= 0:
        raise ConfigError(f"connection {conn.name!r}: timeout must be > 0 seconds, got {timeout}")
    started = time.monotonic()
    if conn.mode == "embedded":
        from .airbyte_embedded import embedded_sync

        if install_root is None:  # the caller's settings say where (settings.airbyte_home)
            raise ConfigError(f"connection {conn.name!r}: embedded mode needs install_root, "
                              "the folder connectors are installed in")

        out = embedded_sync(conn, target, timeout=timeout, log=log, cancel_event=cancel_event,
                            env=env, install_root=install_root)
    else:
        from .airbyte_server import server_run

        out = server_run(conn, "sync", timeout=timeout, log=log, cancel_event=cancel_event, env=env)
    return _finish(out, started)


def clear(conn: AirbyteConnection, target, *, streams: list[str] | None = None, log=None,
          timeout: float = 600.0, cancel_event: threading.Event | None = None,
          env: Mapping[str, str] | None = None) -> SyncOutcome:
    """Clear (reset) a whole connection, or only ``streams``: server/cloud start Airbyte's clear
    job and wait for it; embedded drops the streams' tables and state in the warehouse."""
    if streams is not None and (isinstance(streams, str) or not all(
            isinstance(s, str) and s for s in streams)):
        raise ConfigError(f"connection {conn.name!r}: streams to clear must be a list of names")
    started = time.monotonic()
    if conn.mode == "embedded":
        from .airbyte_embedded import embedded_clear

        out = embedded_clear(conn, target, streams=streams, log=log, env=env)
    else:
        from .airbyte_server import server_run

        out = server_run(conn, "clear", timeout=timeout, log=log, cancel_event=cancel_event,
                         env=env, streams=streams)
    return _finish(out, started)


def _finish(out: SyncOutcome, started: float) -> SyncOutcome:
    assert out.status in STATUSES, out.status
    from dataclasses import replace

    return replace(out, duration_s=round(time.monotonic() - started, 3))


def build_workspace(conn: AirbyteConnection, env: Mapping[str, str] | None = None):
    """The dagster-airbyte workspace resource for a server/cloud connection (for asset specs
    and lineage), secrets resolved now. Never log or persist the returned object."""
    from .airbyte_workspace import build_workspace as _build

    return _build(conn, env)


__all__ = ["AirbyteConnection", "SyncOutcome", "STATUSES", "sync", "clear", "build_workspace",
           "redact"]
