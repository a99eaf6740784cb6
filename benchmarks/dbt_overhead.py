"""Per-step overhead of a dbt task: the same `dbt run` command run (a) as the bare dbt CLI and
(b) as a one-step pipeline through Dagster (`run_pipeline`, the path `databuild pipelines
run` and Dagster launches take). Goal: the task's step takes at most 1.3x the bare CLI.

    python -m benchmarks.dbt_overhead [--quick]   # prints one JSON document

Both sides run on the same outside-shaped project (tests/support/jaffle_like, copied to a
scratch folder), the same DuckDB file and a warm partial parse; the figure is the median of
``repeats`` runs after one warm-up each. `step_s` is Dagster's STEP_START..STEP_SUCCESS of the
dbt op; `run_s` the whole in-process run (Dagster's run start-up included) for context.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "support" / "jaffle_like"
GOAL_RATIO = 1.3
COMMAND = ["run", "--select", "stg_customers stg_orders stg_payments"]


def _bare(project: Path, profiles: Path, target_dir: Path) -> float:
    from resources.dbt import PROFILE, dbt_executable

    env = {**os.environ, "DBT_TARGET_PATH": str(target_dir), "DBT_LOG_PATH": str(target_dir),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    started = time.perf_counter()
    subprocess.run([dbt_executable(), *COMMAND, "--profiles-dir", str(profiles),
                    "--profile", PROFILE, "--target", "dev"], cwd=project, env=env, check=True,
                   capture_output=True)
    return time.perf_counter() - started


def _task(pipelines_file: Path, instance) -> tuple[float, float]:
    from databuild_assets.cli.pipeline_run import quiet_run_config
    from databuild_assets.pipeline_runs import run_pipeline

    started = time.perf_counter()
    with run_pipeline(str(pipelines_file), "bench", instance,
                      run_config=quiet_run_config(verbose=False)) as result:
        assert result.success, "the benchmark pipeline failed"
        run_s = time.perf_counter() - started
        t = {e.dagster_event.event_type_value: e.timestamp
             for e in instance.all_logs(result.run_id)
             if e.dagster_event and e.dagster_event.event_type_value in (
                 "STEP_START", "STEP_SUCCESS")}
    return t["STEP_SUCCESS"] - t["STEP_START"], run_s


def run(quick: bool = True) -> dict:
    import dagster as dg

    from resources.dbt import profile_dict
    from resources.targets import WarehouseTarget

    repeats = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="databuild-dbt-bench-") as tmp:
        tmp = Path(tmp)
        project = tmp / "analytics"
        shutil.copytree(FIXTURE, project)
        warehouse = tmp / "warehouse" / "dev.duckdb"
        warehouse.parent.mkdir()
        profiles = tmp / "profiles"
        profiles.mkdir()
        target = WarehouseTarget("dev", "duckdb", path=str(warehouse))
        (profiles / "profiles.yml").write_text(yaml.safe_dump(profile_dict(target)))
        pipelines = tmp / "pipelines.yaml"
        pipelines.write_text(yaml.safe_dump({
            "dbt_project_dir": "analytics",
            "targets": {"dev": {"type": "duckdb", "path": str(warehouse)}},
            "pipelines": [{"name": "bench", "target": "dev", "tasks": [
                {"slug": "dbt-run", "select": COMMAND[2]}]}]}))
        old_home = os.environ.get("DATABUILD_HOME")
        os.environ["DATABUILD_HOME"] = str(tmp / "home")
        try:
            bare_target = tmp / "bare-target"
            from resources.dbt import dbt_executable

            subprocess.run([dbt_executable(), "seed", "--profiles-dir", str(profiles),
                            "--profile", "databuild", "--target", "dev"], cwd=project,
                           env={**os.environ, "DBT_TARGET_PATH": str(bare_target)},
                           check=True, capture_output=True)
            _bare(project, profiles, bare_target)  # warm-up (partial parse written)
            bare = [_bare(project, profiles, bare_target) for _ in range(repeats)]
            with dg.instance_for_test() as instance:
                _task(pipelines, instance)  # warm-up (parse cache, imports)
                runs = [_task(pipelines, instance) for _ in range(repeats)]
        finally:
            if old_home is None:
                os.environ.pop("DATABUILD_HOME", None)
            else:
                os.environ["DATABUILD_HOME"] = old_home
    bare_s = statistics.median(bare)
    step_s = statistics.median(s for s, _ in runs)
    run_s = statistics.median(r for _, r in runs)
    ratio = step_s / bare_s
    return {"figure": "dbt task step vs bare dbt CLI", "command": "dbt " + " ".join(COMMAND),
            "project": "tests/support/jaffle_like (DuckDB)", "repeats": repeats,
            "bare_cli_runs_s": [round(b, 3) for b in bare],
            "task_step_runs_s": [round(s, 3) for s, _ in runs],
            "bare_cli_s": round(bare_s, 3), "task_step_s": round(step_s, 3),
            "pipeline_run_s": round(run_s, 3), "ratio": round(ratio, 3),
            "goal": f"<= {GOAL_RATIO}x", "met": ratio <= GOAL_RATIO,
            "load_average": os.getloadavg()[0]}


if __name__ == "__main__":
    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
