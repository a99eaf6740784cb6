"""The real code location (`databuild_assets.definitions`) set up as the contract and snapshot
tests load it: the shop example graph, a pipelines file over the repo's dbt project on a
seeded DuckDB warehouse, and a DAGSTER_HOME / DATABUILD_HOME of its own. Loaded in a
subprocess, as Dagster loads it, so the test process's environment stays untouched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

import dagster as dg
import yaml

from tests.support.pipelines import seed_duckdb, write_file

REPO = Path(__file__).resolve().parents[2]
GRAPH = "databuild_assets.examples.shop:graph"
BIN = Path(sys.executable).parent


def location_env(root: Path) -> tuple[dict, Path]:
    """(environment of the code location, its DuckDB warehouse) under ``root``."""
    warehouse = root / "dev.duckdb"
    seed_duckdb(warehouse)
    pipelines = write_file(root, [{
        "name": "nightly", "target": "dev", "schedule": {"cron": "0 6 * * *"},
        "tasks": [{"slug": "dbt-deps"}, {"slug": "dbt-build", "vars": {"date": "2024-01-03"}}]}],
        {"dev": {"type": "duckdb", "path": str(warehouse), "schema": "main"}})
    home = root / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry: {enabled: false}\n")
    # create the instance's SQLite storages once, before jobs launch side by side: two
    # `dagster` processes initialising a fresh home at once stamp its alembic version twice
    # ("more than one head present", seen in CI)
    dg.DagsterInstance.from_config(str(home)).dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABUILD_", "DAGSTER_"))}
    env.update(DATABUILD_HOME=str(root / "state"), DAGSTER_HOME=str(home), PYTHONPATH=str(REPO),
               DATABUILD_GRAPH=GRAPH, DATABUILD_PIPELINES_FILE=str(pipelines))
    return env, warehouse


def run_in_location(env: dict, code: str, timeout: float = 300):
    """The JSON that ``code`` prints last, run in a fresh interpreter with ``env``."""
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=timeout, cwd=REPO)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def code_location_jobs(env: dict) -> list[str]:
    """The job names of the real code location, loaded as Dagster loads it."""
    return run_in_location(env, (
        "import json; from databuild_assets.definitions import defs; "
        "print(json.dumps(sorted(j.name for j in defs().get_repository_def().get_all_jobs()"
        " if not j.name.startswith('__'))))"))


def launch(env, root: Path, job: str, run_config: dict | None, tags: dict) -> str:
    """`dagster job execute` of one job of the code location; fails naming the job."""
    cmd = [str(BIN / "dagster"), "job", "execute", "-m", "databuild_assets.definitions",
           "-j", job, "--tags", json.dumps(tags)]
    if run_config:
        cfg = root / f"{job}.yaml"
        cfg.write_text(yaml.safe_dump(run_config))
        cmd += ["-c", str(cfg)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, cwd=root)
    print(f"launched {job}: exit {p.returncode}", flush=True)
    assert p.returncode == 0, f"job {job} failed when Dagster ran it:\n{(p.stdout + p.stderr)[-4000:]}"
    return job


def run_after(deps: dict[str, set[str]], run_one, width: int = 2) -> list[str]:
    """Call ``run_one(key)`` for every key of ``deps`` once the keys it depends on have
    finished, up to ``width`` at once; the keys in the order they finished. The first
    exception is raised once the calls already running have finished."""
    done: list[str] = []
    todo = dict(deps)
    with ThreadPoolExecutor(width) as pool:
        running: dict = {}
        while todo or running:
            for key in [k for k, d in todo.items() if d <= set(done)][: width - len(running)]:
                running[pool.submit(run_one, key)] = key
                del todo[key]
            if not running:
                raise AssertionError(f"unmet dependencies: {todo}")
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for f in finished:
                key = running.pop(f)
                f.result()
                done.append(key)
    return done
