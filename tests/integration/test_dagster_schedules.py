"""A partitioned asset schedule fired by a real `dagster-daemon`: started on the instance
(as the UI's toggle does), its tick requests the day before the tick and the run makes that
partition live in databuild's catalog and in Dagster."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.storage.tags import PARTITION_NAME_TAG, SCHEDULED_EXECUTION_TIME_TAG

from databuild_assets.core import Catalog
from tests.support.procs import stop_group, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SCHEDULE = "ingest_orders__schedule"


def test_the_daemon_fires_a_partitioned_schedule_and_its_ticks_partition_becomes_live(
        tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry: {enabled: false}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABUILD_", "DAGSTER_"))}
    env.update(DATABUILD_HOME=str(tmp_path / "state"), DAGSTER_HOME=str(home),
               PYTHONPATH=str(REPO), DATABUILD_GRAPH="tests.support.minutely_shop:graph",
               DATABUILD_PIPELINES_FILE=str(tmp_path / "no-pipelines.yaml"))
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module:\n      module_name: databuild_assets.definitions\n"
        f"      working_directory: {REPO}\n      location_name: databuild\n")
    started = subprocess.run([str(BIN / "dagster"), "schedule", "start", SCHEDULE, "-w",
                              str(workspace)], env=env, cwd=tmp_path, capture_output=True,
                             text=True, timeout=300)
    assert started.returncode == 0, (started.stdout + started.stderr)[-3000:]
    instance = dg.DagsterInstance.from_config(str(home))
    log = tmp_path / "daemon.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
                                env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        def finished_run():
            runs = instance.get_runs(dg.RunsFilter(tags={"dagster/schedule_name": SCHEDULE}))
            return next((r for r in runs if r.is_finished), None)

        # a tick a minute, then a run on a loaded machine: a safety net, not a timing check
        run = wait_until(finished_run, "the schedule's first run", limit=600, every=2)
    finally:
        stop_group(proc)
    assert run.status == dg.DagsterRunStatus.SUCCESS, log.read_text()[-3000:]
    tick = dt.datetime.fromisoformat(run.tags[SCHEDULED_EXECUTION_TIME_TAG])
    day = (tick - dt.timedelta(days=1)).date().isoformat()
    assert run.tags[PARTITION_NAME_TAG] == day  # the day that just ended, not the current one
    catalog = Catalog.open(f"sqlite:///{tmp_path / 'state' / 'catalog.db'}")
    assert {r.ref: r.state for r in catalog.partitions_of("orders")} == {
        f"orders/date={day}": "live"}
    recs = instance.fetch_materializations(dg.AssetKey("orders"), limit=10).records
    assert [r.asset_materialization.partition for r in recs] == [day]
