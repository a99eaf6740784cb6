"""The shared vocabulary of the Airbyte task: a validated connection, how a sync or clear
ended, and the redaction every message passes through.

Its own module so the mode implementations (``airbyte_embedded``, ``airbyte_server``) and the
dispatcher (``airbyte``) all import it, and none of them imports another: no import cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .airbyte_config import parse_connection

STATUSES = ("succeeded", "failed", "cancelled", "timed_out", "already_running")
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AirbyteConnection:
    """One validated `connections:` entry. Holds env var *names*, never secret values."""

    name: str
    mode: str  # embedded | server | cloud
    # embedded (PyAirbyte)
    source: str = ""
    pip_url: str = ""
    config: Mapping[str, Any] = field(default_factory=dict)  # may hold ${ENV_NAME} references
    streams: tuple[str, ...] | str = "*"
    schema: str = ""  # warehouse schema the streams land in (default airbyte_<name>)
    write_strategy: str = "auto"  # auto | append | merge | replace
    full_refresh: bool = False
    # server / cloud (dagster-airbyte)
    rest_api_base_url: str = ""
    configuration_api_base_url: str = ""
    workspace_id: str = ""
    connection_id: str = ""
    client_id_env: str = ""
    client_secret_env: str = ""
    username_env: str = ""
    password_env: str = ""
    poll_interval: float = 5.0
    request_max_retries: int = 3
    request_retry_delay: float = 1.0  # first backoff step; doubles per retry, capped at 30 s
    request_timeout: int = 15
    clear_job_type: str = "clear"  # "reset" for Airbyte < 1.0

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any], base_dir: Path | None = None
                  ) -> AirbyteConnection:
        """Validate a `connections:` entry; raises one ConfigError naming the first problem."""
        return cls(name=name, **parse_connection(name, d, base_dir))

    @property
    def host(self) -> str:
        """Where a server/cloud connection points (for messages)."""
        from urllib.parse import urlsplit

        return urlsplit(self.rest_api_base_url).netloc if self.rest_api_base_url else ""

    def describe(self) -> dict[str, Any]:
        """Safe for logs and Dagster metadata: env var names, no secret values."""
        keep = {k: v for k, v in asdict(self).items() if v not in ("", None, {}, ())}
        if "streams" in keep and not isinstance(keep["streams"], str):
            keep["streams"] = list(keep["streams"])
        return keep


@dataclass(frozen=True)
class SyncOutcome:
    """How one sync or clear ended. ``message`` is meant for people and is free of secrets."""

    connection: str
    mode: str
    operation: str  # sync | clear
    status: str  # one of STATUSES
    message: str
    job_id: int | str | None = None
    records: int | None = None
    streams: tuple[str, ...] = ()
    stream_records: Mapping[str, int] = field(default_factory=dict)
    error: str = ""  # why it did not succeed: lock_contention | transient | protocol | auth |
    #                  config | job_failed | timeout | cancelled | api ("" when it succeeded)
    attempts: int = 1  # tries of the request that started the job (embedded: 1)
    retries: int = 0  # transient API failures retried during the whole operation
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"

    def to_metadata(self) -> dict[str, Any]:
        d = asdict(self)
        d["streams"] = list(self.streams)
        d["stream_records"] = dict(self.stream_records)
        return {k: v for k, v in d.items() if v is not None}


class Redactor:
    """Replaces known secret values in text. Values shorter than 4 characters are ignored
    (they cannot be told apart from ordinary text)."""

    def __init__(self, secrets: list[str] | None = None):
        self._secrets: list[str] = []
        for s in secrets or []:
            self.add(s)

    def add(self, value: str | None) -> None:
        if value and len(value) >= 4 and value not in self._secrets:
            self._secrets.append(value)
            self._secrets.sort(key=len, reverse=True)

    def __call__(self, text: Any) -> str:
        from databuild_assets.core.redact import redact_text

        return redact_text(str(text), self._secrets)  # values, then shapes (?token=, Bearer)


def redact(text: Any, secrets: list[str]) -> str:
    return Redactor(secrets)(text)


class SafeLog:
    """Wraps the caller's logger (logging.Logger or Dagster's context.log) so that every line
    goes through the redactor first."""

    def __init__(self, log: Any, redactor: Redactor, prefix: str):
        self._log = log if log is not None else _log
        self.redact = redactor
        self._prefix = prefix

    def _emit(self, level: str, msg: str) -> None:
        getattr(self._log, level)(self.redact(f"{self._prefix}{msg}"))

    def info(self, msg: str) -> None:
        self._emit("info", msg)

    def warning(self, msg: str) -> None:
        self._emit("warning", msg)

    def error(self, msg: str) -> None:
        self._emit("error", msg)
