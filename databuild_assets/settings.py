"""The one place that reads the configuration from the environment. The entry points pass
what they read down (values, a DatabuildResource); secrets are looked up by name through a
resolver, whose default (``core/secrets.py``) this module's ``secret`` is."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .core.secrets import CATALOG_PASSWORD_ENV, env_secret

__all__ = ["CATALOG_PASSWORD_ENV", "Settings", "load", "secret", "webhook_url"]


@dataclass(frozen=True)
class Settings:
    home: Path  # the project's state folder
    catalog_url: str
    data_root: Path
    dagster_home: Path
    graph: str  # module:attr of the Graph the CLI and Dagster load
    project_dir: Path
    pipelines_file: Path = Path("pipelines.yaml")
    airbyte_home: Path = Path(".databuild/airbyte")  # connector venvs: installed once, shared
    target: str = "dev"  # warehouse target of the example graph (pipelines.yaml targets)
    dagster_home_shared: bool = True  # False: DAGSTER_HOME unset or a `dagster dev` temp dir
    job_timeout: float = 3600.0  # seconds a job may run unless it sets its own timeout


def load(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    project_dir = Path(env.get("DATABUILD_PROJECT_DIR") or Path.cwd()).resolve()
    home = Path(env.get("DATABUILD_HOME") or project_dir / ".databuild").resolve()
    return Settings(
        home=home,
        catalog_url=env.get("DATABUILD_CATALOG_URL") or f"sqlite:///{home / 'catalog.db'}",
        data_root=Path(env.get("DATABUILD_DATA_ROOT") or home / "data"),
        dagster_home=Path(env.get("DAGSTER_HOME") or home / "dagster"),
        graph=env.get("DATABUILD_GRAPH") or "databuild_assets.examples.podcast_reviews.graph:graph",
        project_dir=project_dir,
        pipelines_file=Path(env.get("DATABUILD_PIPELINES_FILE") or project_dir / "pipelines.yaml"),
        airbyte_home=Path(env.get("DATABUILD_AIRBYTE_HOME") or home / "airbyte"),
        target=env.get("DATABUILD_TARGET") or "dev",
        dagster_home_shared=bool(env.get("DAGSTER_HOME")) and not Path(
            env["DAGSTER_HOME"]).name.startswith(".tmp_dagster_home"),
        job_timeout=_seconds(env, "DATABUILD_JOB_TIMEOUT", 3600.0),
    )


def _seconds(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if value <= 0:
        from .core.errors import DatabuildError

        raise DatabuildError(f"{name}={raw!r} is not a positive number of seconds")
    return value


def secret(name: str, env: dict[str, str] | None = None) -> str | None:
    """A secret by name: the environment first, then DATABUILD_SECRETS_FILE (KEY=VALUE lines,
    kept outside the repository). Never log the value. The entry points hand this lookup
    down as the secret resolver (``core/secrets.py`` holds it, for code below them)."""
    return env_secret(name, env)


def webhook_url(env: dict[str, str] | None = None) -> str | None:
    """Where automation notifications (SLA breaches, permanent failures) are POSTed, if
    anywhere: DATABUILD_WEBHOOK_URL. Treated as a secret (webhook URLs often embed a token)."""
    return secret("DATABUILD_WEBHOOK_URL", env) or None
