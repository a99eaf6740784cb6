"""Runs Dagster launches itself (UI, backfills, schedules, `dagster job launch`) are retried
by failure class: a real ``dagster-daemon`` dequeues them, launches each in its own process
and re-executes the failed ones whose failure is retriable; permanent failures stay failed."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from databuild_assets.core import Catalog
from databuild_assets.dagster.retries import CLASS_TAG, retry_decision
from tests.support.graphs import make_graph
from tests.support.procs import stop_group

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FLAKY, BROKEN = "fx/date=2024-04-01", "src/date=2024-05-01"
OPTS = {"flaky": {FLAKY: 1}, "broken": [BROKEN]}
DAGSTER_YAML = """\
telemetry: {enabled: false}
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config: {max_concurrent_runs: 2, dequeue_interval_seconds: 1}
run_retries: {enabled: true, max_retries: 2, retry_on_asset_or_op_failure: false}
"""


def test_the_retry_decision_follows_the_failure_class():
    tag = "dagster/retry_on_asset_or_op_failure"
    assert retry_decision("TimeoutError: warehouse timed out", {})[tag] == "true"
    assert retry_decision("schema validation failed: column 'x' missing", {})[tag] == "false"
    assert retry_decision("HTTP 401 Unauthorized", {})[tag] == "false"
    # a range run with one retriable partition among permanent ones is worth retrying
    assert retry_decision("2 of 2 failed\nconnection reset by peer\nschema error", {})[tag] == "true"
    assert retry_decision("TimeoutError", {"databuild/automation": "wants"}) == {tag: "false"}


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("retries")
    home = root / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    workspace = root / "workspace.yaml"
    workspace.write_text("load_from:\n  - python_module:\n      module_name: tests.support.retry_defs\n"
                         f"      working_directory: {REPO}\n      location_name: retries\n")
    url = f"sqlite:///{root / 'catalog.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABUILD_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(home), DBTEST_ROOT=str(root), DBTEST_OPTS=json.dumps(OPTS),
               DATABUILD_CATALOG_URL=url, PYTHONPATH=str(REPO))
    instance = dg.DagsterInstance.from_config(str(home))  # storage exists before any process
    log = root / "daemon.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
                                env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)

    def launch(job: str, partition: str) -> None:
        p = subprocess.run([str(BIN / "dagster"), "job", "launch", "-w", str(workspace), "-j", job,
                            "--tags", json.dumps({"dagster/partition": partition})],
                           env=env, cwd=root, capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr[-2000:]

    try:
        launch("load_src__job", "2024-05-01")  # permanent: schema validation error
        launch("load_fx__job", "2024-04-01")  # retriable: times out once
        yield instance, Catalog.open(url), root, log
    finally:
        stop_group(proc)


def _wait(what, cond, log: Path, timeout: float = 480.0):  # generous: shared cores
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(1)
    raise AssertionError(f"timed out waiting for {what}\n{log.read_text()[-4000:]}")


def _runs(instance, job):
    return list(reversed(instance.get_runs(dg.RunsFilter(job_name=job))))  # oldest first


def test_a_launched_run_failing_with_a_timeout_is_retried_and_a_schema_error_is_not(daemon, tmp_path):
    instance, catalog, root, log = daemon
    done = dg.DagsterRunStatus.SUCCESS
    _wait("the retried fx run to succeed",
          lambda: any(r.status == done for r in _runs(instance, "load_fx__job")), log)
    fx = _runs(instance, "load_fx__job")
    first = next(r for r in fx if "dagster/parent_run_id" not in r.tags)
    retry = next(r for r in fx if r.status == done)
    assert first.status == dg.DagsterRunStatus.FAILURE
    assert first.tags[CLASS_TAG] == "retriable" and first.tags["dagster/will_retry"] == "true"
    assert retry.tags["dagster/parent_run_id"] == first.run_id
    assert retry.tags["dagster/retry_number"] == "1"
    g = make_graph(root, catalog, **OPTS)
    assert g.status([FLAKY])[FLAKY].state == "live"

    (src,) = _runs(instance, "load_src__job")  # failed first, processed before fx's failure
    assert src.status == dg.DagsterRunStatus.FAILURE
    assert src.tags[CLASS_TAG] == "permanent" and src.tags["dagster/will_retry"] == "false"
    assert g.status([BROKEN])[BROKEN].state != "live"
