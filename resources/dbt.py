"""dbt, built per run: a private profiles.yml from the target, a DbtCliResource, an outcome.

The password never touches disk: profiles.yml says ``{{ env_var('NAME') }}`` and the value
is handed to the dbt process only, in its environment.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from databuild_assets.core.errors import ConfigError

from .targets import WarehouseTarget

PROFILE = "databuild"


def dbt_executable() -> str:
    """The dbt next to this interpreter (a venv's bin is often not on PATH)."""
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.exists() else "dbt"

DEFAULT_PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"


@dataclass
class DbtOutcome:
    command: str
    ok: bool
    failed_tests: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    results: list[dict] = field(default_factory=list)

    @property
    def message(self) -> str:
        if self.errors:
            return f"dbt {self.command} errors: {'; '.join(self.errors[:5])}"
        if self.failed_tests:
            return f"dbt {self.command}: {len(self.failed_tests)} test(s) failed: " + \
                ", ".join(self.failed_tests[:5])
        return f"dbt {self.command}: {len(self.results)} node(s) ok"


def profile_dict(target: WarehouseTarget) -> dict:
    if target.type == "duckdb":
        out = {"type": "duckdb", "path": target.path, "schema": target.schema or "main",
               "threads": target.threads}
    else:
        out = {"type": "postgres", "host": target.host, "port": int(target.port),
               "user": target.user, "dbname": target.database,
               "schema": target.schema if target.schema != "main" else "public",
               "threads": target.threads,
               "password": "{{ env_var('" + target.password_env + "') }}" if target.password_env
               else ""}
    return {PROFILE: {"target": target.name, "outputs": {target.name: out}}}


@contextmanager
def profiles_dir(target: WarehouseTarget) -> Iterator[Path]:
    """A private (0700) temp folder holding profiles.yml, removed after the run."""
    with tempfile.TemporaryDirectory(prefix="databuild-dbt-profiles-") as d:
        os.chmod(d, 0o700)
        (Path(d) / "profiles.yml").write_text(yaml.safe_dump(profile_dict(target)))
        yield Path(d)


def dbt_env(target: WarehouseTarget, extra: dict | None = None) -> dict[str, str]:
    env = {k: str(v) for k, v in (extra or {}).items()}
    if target.password_env:
        env[target.password_env] = target.password()
    return env


def dbt_args(command: str, params: dict) -> list[str]:
    args = command.split()
    if params.get("select"):
        args += ["--select", params["select"]]
    if params.get("exclude"):
        args += ["--exclude", params["exclude"]]
    if params.get("vars"):
        args += ["--vars", json.dumps(params["vars"])]
    for k, v in (params.get("options") or {}).items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    args += [str(f) for f in params.get("flags") or []]
    return args


def _outcome(command: str, run_results: Path, returncode: int) -> DbtOutcome:
    out = DbtOutcome(command, ok=returncode == 0)
    if run_results.exists():
        data = json.loads(run_results.read_text())
        for r in data.get("results", []):
            out.results.append({"node": r["unique_id"], "status": r["status"]})
            if r["status"] in ("fail",) or (r["status"] == "error" and ".test." in r["unique_id"]
                                            and r["unique_id"].startswith("test.")):
                out.failed_tests.append(r["unique_id"])
            elif r["status"] == "error":
                out.errors.append(f"{r['unique_id']}: {(r.get('message') or '').strip()[:200]}")
    elif returncode != 0:
        out.errors.append(f"dbt exited with code {returncode} before writing run results")
    return out


def run_dbt(command: str, params: dict, target: WarehouseTarget, *, project_dir: Path | None =
            None, log=None, quiet: bool = False) -> DbtOutcome:
    """Run one dbt command against the target and read its outcome from run_results.json.
    (dbt models as Dagster assets stream their events through resources/dbt_assets.py.)"""
    from dagster_dbt import DbtCliResource

    project_dir = Path(project_dir or DEFAULT_PROJECT)
    if not (project_dir / "dbt_project.yml").exists():
        raise ConfigError(f"no dbt project at {project_dir} (dbt_project.yml missing)")
    if target.type == "duckdb" and target.path:
        Path(target.path).parent.mkdir(parents=True, exist_ok=True)  # dbt-duckdb will not
    with profiles_dir(target) as pdir, tempfile.TemporaryDirectory(prefix="dbt-target-") as tdir:
        env_backup = {}
        for k, v in dbt_env(target, params.get("env")).items():
            env_backup[k] = os.environ.get(k)
            os.environ[k] = v  # dbt's subprocess inherits it; restored below
        try:
            dbt = DbtCliResource(project_dir=str(project_dir), profiles_dir=str(pdir),
                                 profile=PROFILE, target=target.name,
                                 dbt_executable=dbt_executable(),
                                 global_config_flags=["--quiet"] if quiet else [])
            inv = dbt.cli(dbt_args(command, params), raise_on_error=False, target_path=Path(tdir))
            inv.wait()
            return _outcome(command, Path(tdir) / "run_results.json", inv.process.returncode)
        finally:
            for k, v in env_backup.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


@functools.cache
def dbt_manifest(project_dir: str | None = None) -> Path:
    """Parse the project once per process (lazily, never at import) and return manifest.json."""
    from dagster_dbt import DbtCliResource

    project = Path(project_dir or DEFAULT_PROJECT)
    target_dir = project / "target"
    manifest = target_dir / "manifest.json"
    sources = [p for d in ("models", "tests", "seeds", "macros", "snapshots")
               for p in (project / d).rglob("*") if p.is_file()] + [project / "dbt_project.yml"]
    if manifest.exists() and manifest.stat().st_mtime > max(p.stat().st_mtime for p in sources):
        return manifest  # parsed already and nothing changed since: skip `dbt parse` (~9 s)
    stub = WarehouseTarget("parse", "duckdb", path=str(Path(tempfile.gettempdir()) /
                                                       "databuild-dbt-parse.duckdb"))
    with profiles_dir(stub) as pdir:
        dbt = DbtCliResource(project_dir=str(project), profiles_dir=str(pdir), profile=PROFILE,
                             target="parse", dbt_executable=dbt_executable(),
                             global_config_flags=["--quiet"])
        dbt.cli(["parse"], target_path=target_dir, raise_on_error=True).wait()
    return target_dir / "manifest.json"
