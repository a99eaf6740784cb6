"""dbt, built per run: a private profiles.yml from the target, a DbtCliResource, an outcome.

The password never touches disk: profiles.yml says ``{{ env_var('NAME') }}`` and the value
is handed to the dbt process only, in its environment.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from databuild_assets.core.errors import ConfigError
from databuild_assets.core.names import FILE, safe_name

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
    skipped: list[str] = field(default_factory=list)  # nodes dbt skipped (an upstream failed)
    artifacts: str = ""  # folder keeping manifest/run_results (and catalog, index.html)
    duration_s: float = 0.0

    @property
    def message(self) -> str:
        if self.errors:
            return f"dbt {self.command} errors: {'; '.join(self.errors[:5])}"
        if self.failed_tests:
            text = f"dbt {self.command}: {len(self.failed_tests)} test(s) failed: " + \
                ", ".join(self.failed_tests[:5])
            if self.skipped:  # models first: they are what the user misses
                names = sorted(self.skipped, key=lambda n: not n.startswith("model."))
                text += f"; {len(self.skipped)} node(s) skipped: " + \
                    ", ".join(_short_node(n) for n in names[:10])
            return text
        return f"dbt {self.command}: {len(self.results)} node(s) ok"


def _short_node(unique_id: str) -> str:
    """model.project.orders -> model orders."""
    kind, _, rest = unique_id.partition(".")
    return f"{kind} {rest.partition('.')[2] or rest}"


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


_ERROR_HINT = re.compile(r"error|exception|not found|does not exist|could not|failed|"
                         r"invalid", re.I)


def error_lines(output: str, keep: int = 8) -> list[str]:
    """The last lines of dbt's output that say what went wrong (its own log says the same)."""
    lines = [ln.rstrip() for ln in output.splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.lstrip().startswith(("Done. PASS", "Finished running",
                                                             "Completed with"))]
    marks = [i for i, ln in enumerate(lines) if "Encountered an error" in ln]
    if marks:  # dbt's own summary of a failure that stopped it: from there on
        return [_no_clock(ln) for ln in lines[marks[-1]:marks[-1] + keep]]
    picked = [i for i, ln in enumerate(lines) if _ERROR_HINT.search(ln)]
    if not picked:
        return [_no_clock(ln) for ln in lines[-keep:]]
    start = max(picked[-1] - keep + 1, 0)
    return [_no_clock(ln) for ln in lines[start:picked[-1] + 3]][-keep:]


def _no_clock(line: str) -> str:
    """'01:02:21  Database Error' -> 'Database Error'."""
    return re.sub(r"^\d\d:\d\d:\d\d\s+", "", line.strip())


def _outcome(command: str, run_results: Path, returncode: int, output: str = "") -> DbtOutcome:
    out = DbtOutcome(command, ok=returncode == 0)
    data = {}
    if run_results.exists():
        with contextlib.suppress(ValueError):
            data = json.loads(run_results.read_text())
    for r in data.get("results", []):
        out.results.append({"node": r["unique_id"], "status": r["status"]})
        if r["status"] == "fail" or (r["status"] == "error" and r["unique_id"].startswith(
                "test.")):
            out.failed_tests.append(r["unique_id"])
        elif r["status"] == "error":
            out.errors.append(f"{r['unique_id']}: {(r.get('message') or '').strip()[:300]}")
        elif r["status"] == "skipped":
            out.skipped.append(r["unique_id"])
    if returncode != 0 and not out.errors and not out.failed_tests:
        lines = error_lines(output)
        out.errors.append(f"dbt exited with code {returncode}" +
                          (": " + " | ".join(lines) if lines else ""))
    return out


def artifacts_root(home: Path, pipeline: str, run_id: str) -> Path:
    """Where a pipeline run keeps its dbt artifacts: $DATABUILD_HOME/dbt/<pipeline>/<run id>."""
    return Path(home) / "dbt" / safe_name(pipeline, FILE) / run_id


def latest_artifacts(home: Path, pipeline: str) -> Path | None:
    root = Path(home) / "dbt" / safe_name(pipeline, FILE)
    runs = [p for p in root.glob("*") if p.is_dir()] if root.is_dir() else []
    return max(runs, key=lambda p: p.stat().st_mtime) if runs else None


def run_dbt(command: str, params: dict, target: WarehouseTarget, *, project_dir: Path | None =
            None, log=None, quiet: bool = False, artifacts_dir: Path | None = None,
            timeout: float | None = None, parse_cache: Path | None = None) -> DbtOutcome:
    """Run one dbt command against the target as a plain `dbt` process (its own process
    group, with a time limit) and read its outcome from run_results.json.

    No DbtCliResource here: it runs `dbt --version` and builds a dbt adapter in this process
    on every call (seconds per step) for features a task does not use. ``artifacts_dir``
    keeps dbt's target folder (manifest, run_results, catalog, index.html); without it a
    temporary folder is used and removed. ``parse_cache``: a folder keeping dbt's
    partial_parse.msgpack between runs (dbt checks it is still valid), so a fresh target
    folder does not cost a full parse."""
    from .shell import DEFAULT_TIMEOUT_S, run_process

    project_dir = Path(project_dir or DEFAULT_PROJECT)
    if not (project_dir / "dbt_project.yml").exists():
        raise ConfigError(f"no dbt project at {project_dir} (dbt_project.yml missing)")
    if target.type == "duckdb" and target.path:
        Path(target.path).parent.mkdir(parents=True, exist_ok=True)  # dbt-duckdb will not
    with contextlib.ExitStack() as stack:
        pdir = stack.enter_context(profiles_dir(target))
        if artifacts_dir is None:
            tdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="dbt-target-")))
        else:
            tdir = Path(artifacts_dir)
            tdir.mkdir(parents=True, exist_ok=True)
        env = {"DBT_TARGET_PATH": str(tdir), "DBT_LOG_PATH": str(tdir),
               "DBT_PROFILES_DIR": str(pdir), "DBT_PROJECT_DIR": str(project_dir),
               "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_USE_COLORS": "false",
               **dbt_env(target, params.get("env"))}
        cached = Path(parse_cache) / "partial_parse.msgpack" if parse_cache else None
        if cached is not None and cached.is_file():
            shutil.copy2(cached, tdir / "partial_parse.msgpack")
        args = [dbt_executable(), *(["--quiet"] if quiet else []), *dbt_args(command, params),
                "--profile", PROFILE, "--target", target.name]
        secrets = [target.password()] if target.password_env else []
        started = time.monotonic()
        proc = run_process(args, cwd=project_dir, env=env, secrets=secrets,
                           timeout=timeout or DEFAULT_TIMEOUT_S,
                           on_line=(log.info if log and not quiet else None))
        out = _outcome(command, tdir / "run_results.json", proc.returncode, proc.output)
        fresh = tdir / "partial_parse.msgpack"
        if cached is not None and fresh.is_file():
            cached.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                shutil.copy2(fresh, cached)
        if proc.timed_out:
            out.errors.insert(0, proc.output.splitlines()[-1])
        out.duration_s = round(time.monotonic() - started, 3)
        out.artifacts = str(tdir) if artifacts_dir is not None else ""
        return out


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
