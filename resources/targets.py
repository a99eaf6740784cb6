"""Warehouse targets declared in pipelines.yaml. Secrets are referenced by environment
variable name and resolved only at run time, never stored or logged."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from databuild_assets.core.errors import ConfigError
from databuild_assets.core.secrets import env_secret


@dataclass(frozen=True)
class WarehouseTarget:
    name: str
    type: str  # duckdb | postgres
    path: str = ""  # duckdb file
    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "postgres"
    database: str = ""
    schema: str = "main"
    password_env: str = ""  # name of the env var holding the password (may be empty)
    threads: int = 2
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, name: str, d: dict, base_dir: Path | None = None) -> WarehouseTarget:
        if not isinstance(d, dict):
            raise ConfigError(f"target {name!r} must be a mapping")
        kind = d.get("type")
        if kind not in ("duckdb", "postgres"):
            raise ConfigError(f"target {name!r}: type must be 'duckdb' or 'postgres', got {kind!r}")
        known = {f for f in cls.__dataclass_fields__} - {"name", "extra"}
        unknown = set(d) - known
        if "password" in d:
            raise ConfigError(f"target {name!r}: never put a password in the file; set "
                              "'password_env: SOME_ENV_VAR' and export that variable")
        if kind == "duckdb":
            path = d.get("path")
            if not path:
                raise ConfigError(f"target {name!r}: a duckdb target needs 'path'")
            if base_dir and not os.path.isabs(path):
                path = str((base_dir / path).resolve())
            d = {**d, "path": path}
        elif not d.get("database"):
            raise ConfigError(f"target {name!r}: a postgres target needs 'database'")
        kwargs = {k: v for k, v in d.items() if k in known}
        return cls(name=name, extra={k: d[k] for k in unknown}, **kwargs)

    def password(self, env: dict | None = None) -> str:
        """Resolved at run time only."""
        if not self.password_env:
            return ""
        value = env_secret(self.password_env, env)
        if value is None:
            raise ConfigError(f"target {self.name!r}: secret {self.password_env!r} is not set "
                              "(export it or put it in DATABUILD_SECRETS_FILE)")
        return value

    def sqlalchemy_url(self, env: dict | None = None) -> str:
        if self.type == "duckdb":
            return f"duckdb:///{self.path}"
        pw = self.password(env)
        auth = f"{self.user}:{pw}@" if pw else f"{self.user}@"
        return f"postgresql+psycopg2://{auth}{self.host}:{self.port}/{self.database}"
