"""Goal 2: Dagster's default backfill, launched by a real ``dagster-daemon run`` process,
against ``databuild build --dagster`` end to end, over the same three daily assets
(benchmarks.daily) and the same days, in the same benchmark run.

The Dagster side is what a user of plain Dagster gets: a partition backfill of a job over
the three assets, submitted like the UI's "Launch backfill" (the ``launchPartitionBackfill``
GraphQL mutation, executed in process against the same workspace), on the instance
defaults (SQLite storage, ``QueuedRunCoordinator``, ``DefaultRunLauncher``). The daemon's
backfill loop creates one run per partition; its run queue launches each run as its own
process through the code server. Timed from the submission until every run has ended; the
daemon and the code location are up before the clock starts.

The databuild side is the CLI, ``databuild build --dagster <refs>``, as a subprocess on a
fresh state folder (interpreter start, imports and definitions load included).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import yaml

from . import daily
from .common import Timer, log, rnd, scratch

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
LOCATION = "bench"
JOB = "all_assets"
DAGSTER_YAML = "telemetry:\n  enabled: false\n"

LAUNCH = """
mutation($backfillParams: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $backfillParams) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on PartitionSetNotFoundError { message }
    ... on PartitionKeysNotFoundError { message }
  }
}"""


def definitions(catalog_url: str, data_root: str) -> dg.Definitions:
    """The code location the daemon loads: the adapter's assets of benchmarks.daily with
    Dagster's default backfill shape (one partition per run: the adapter declares
    ``BackfillPolicy.single_run``, which plain Dagster assets do not have) and one
    partitioned job over all three (in-process executor: one process per run, not per
    step, the cheapest way plain Dagster runs them). No databuild sensors."""
    from databuild_assets.dagster import build_definitions

    defs = build_definitions(daily.graph, catalog_url=catalog_url, data_root=data_root)
    per_partition = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)
    assets = [a.with_attributes(backfill_policy=per_partition)
              if isinstance(a, dg.AssetsDefinition) else a for a in defs.assets or []]
    job = dg.define_asset_job(JOB, selection=dg.AssetSelection.all(),
                              executor_def=dg.in_process_executor)
    return dg.Definitions(assets=assets, resources=defs.resources, jobs=[job])


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABUILD_", "DAGSTER_"))}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])
    return {**env, **extra}


@contextlib.contextmanager
def _stdout_to_stderr():
    """The workspace's code server inherits file descriptor 1 and logs there; stdout is the
    benchmark's JSON document."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _wait(what: str, check, timeout: float, proc=None, log_path: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log_path.read_text()[-3000:] if log_path else ""
            raise RuntimeError(f"the daemon exited while waiting for {what}: {tail}")
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


def _live(catalog_url: str, data_root: Path, n: int) -> int:
    from databuild_assets.core import Catalog

    catalog = Catalog.open(catalog_url)
    graph = daily.graph.bind(catalog, data_root)
    refs = [p.format(date=d) for d in daily.days(n)
            for p in (daily.EXTRACT, daily.TRANSFORM, daily.PUBLISH)]
    live = sum(s.state == "live" for s in graph.status(refs).values())
    catalog.dispose()
    return live


def dagster_daemon_backfill(root: Path, n: int, timeout: float = 1800) -> dict:
    from dagster._core.execution.backfill import BulkActionStatus
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster_graphql.test.utils import execute_dagster_graphql

    home = root / "dagster"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    catalog_url, data_root = f"sqlite:///{root / 'catalog.db'}", root / "data"
    (root / "defs.py").write_text(
        "from benchmarks.daemon_backfill import definitions\n\n"
        f"defs = definitions({catalog_url!r}, {str(data_root)!r})\n")
    workspace = root / "workspace.yaml"
    workspace.write_text(yaml.safe_dump({"load_from": [{"python_file": {
        "relative_path": "defs.py", "location_name": LOCATION,
        "working_directory": str(REPO)}}]}))
    env = _env(DAGSTER_HOME=str(home))
    daemon_log = root / "daemon.log"
    saved = {k: os.environ.get(k) for k in ("DAGSTER_HOME", "PYTHONPATH")}
    os.environ.update(DAGSTER_HOME=str(home), PYTHONPATH=env["PYTHONPATH"])
    daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
                              cwd=root, env=env, stdout=open(daemon_log, "w"),
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        instance = dg.DagsterInstance.from_config(str(home))
        with Timer() as up:
            _wait("the daemon's backfill and run-queue loops", lambda: {
                "BACKFILL", "QUEUED_RUN_COORDINATOR"} <= set(instance.get_daemon_heartbeats()),
                300, daemon, daemon_log)
        with _stdout_to_stderr(), WorkspaceProcessContext(
                instance, WorkspaceFileTarget([str(workspace)])) as ctx:
            request = ctx.create_request_context()
            variables = {"backfillParams": {
                "selector": {"partitionSetName": f"{JOB}_partition_set", "repositorySelector": {
                    "repositoryLocationName": LOCATION, "repositoryName": "__repository__"}},
                "partitionNames": daily.days(n)}}
            log(f"daemon backfill: submitting {n} partitions of {JOB}")
            with Timer() as t:
                res = execute_dagster_graphql(request, LAUNCH, variables)
                out = res.data["launchPartitionBackfill"] if res.data else res.errors
                if not isinstance(out, dict) or out["__typename"] != "LaunchBackfillSuccess":
                    raise RuntimeError(f"launchPartitionBackfill failed: {out}")
                backfill_id = out["backfillId"]

                def done() -> list | None:
                    backfill = instance.get_backfill(backfill_id)
                    runs = instance.get_runs(dg.RunsFilter.for_backfill(backfill_id))
                    if backfill.status != BulkActionStatus.REQUESTED and len(runs) >= n \
                            and all(r.is_finished for r in runs):
                        return runs
                    return None

                runs = _wait(f"backfill {backfill_id}", done, timeout, daemon, daemon_log)
        failed = [r.run_id for r in runs if r.status != dg.DagsterRunStatus.SUCCESS]
        live = _live(catalog_url, data_root, n)
        if failed or live != 3 * n:
            raise RuntimeError(f"daemon backfill: {len(failed)} failed runs, {live} of {3 * n} "
                               f"partitions live; daemon log: {daemon_log.read_text()[-2000:]}")
        return {"seconds": rnd(t.seconds), "runs": len(runs), "live_partitions": live,
                "daemon_ready_s": rnd(up.seconds),
                "shape": "partition backfill of one job over the 3 assets, submitted with the "
                         "launchPartitionBackfill mutation; dagster-daemon creates one run per "
                         "partition and launches each as a process (QueuedRunCoordinator, "
                         "DefaultRunLauncher: the instance defaults)"}
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        try:
            daemon.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(daemon.pid, signal.SIGKILL)
            daemon.wait(10)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def databuild_cli(root: Path, n: int) -> dict:
    """``databuild build --dagster`` as a user runs it, on a fresh state folder."""
    root.mkdir(parents=True)
    home = root / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    catalog_url, data_root = f"sqlite:///{root / 'catalog.db'}", root / "data"
    env = _env(DAGSTER_HOME=str(home), DATABUILD_GRAPH="benchmarks.daily:graph",
               DATABUILD_CATALOG_URL=catalog_url, DATABUILD_DATA_ROOT=str(data_root),
               DATABUILD_HOME=str(root / "state"), DATABUILD_PROJECT_DIR=str(root))
    cmd = [str(BIN / "databuild"), "build", "--dagster", *daily.refs(n)]
    with Timer() as t:
        proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True,
                              timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"databuild build --dagster failed: {proc.stdout[-1500:]}"
                           f"{proc.stderr[-1500:]}")
    live = _live(catalog_url, data_root, n)
    if live != 3 * n:
        raise RuntimeError(f"databuild build --dagster: {live} of {3 * n} partitions live")
    return {"seconds": rnd(t.seconds), "runs": 3, "live_partitions": live,
            "command": "databuild build --dagster <the publish refs of the days>"}


def daemon_side_by_side(n: int) -> dict:
    out: dict = {"days": n, "jobs": 3, "partitions": 3 * n, "dagster_version": dg.__version__,
                 "storage": "sqlite (Dagster instance defaults and catalog)"}
    with scratch() as folder:
        log(f"daemon backfill vs build --dagster: databuild CLI, {n} days x 3 jobs")
        out["databuild_build_dagster"] = databuild_cli(folder / "databuild", n)
        log(f"daemon backfill vs build --dagster: dagster-daemon backfill, {n} days x 3 jobs")
        out["dagster_daemon_backfill"] = dagster_daemon_backfill(folder / "daemon", n)
    out["ratio_daemon_backfill_over_build_dagster"] = rnd(
        out["dagster_daemon_backfill"]["seconds"] / out["databuild_build_dagster"]["seconds"], 1)
    return out


if __name__ == "__main__":  # python -m benchmarks.daemon_backfill [days]
    import json

    print(json.dumps(daemon_side_by_side(int(sys.argv[1]) if len(sys.argv) > 1 else 30),
                     indent=2))
