"""Scale-out on Dagster's Celery executor: `databuild build --dagster --celery
deploy/celery/celery.yaml` with its steps sent through the local RabbitMQ to two Celery
worker processes (`dagster-celery worker start`), as deploy/celery documents. Fails (not
skips) under CI=true when RabbitMQ is unreachable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from benchmarks import daily
from benchmarks.celery_workers import DEFAULT_BROKER, CeleryWorkers, broker_problem
from databuild_assets.core import Catalog

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

BROKER = os.environ.get("DATABUILD_TEST_CELERY_BROKER", DEFAULT_BROKER)
DAYS = 4
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    problem = broker_problem(BROKER)
    if problem:
        msg = f"RabbitMQ unreachable at {BROKER.split('@')[-1]}: {problem}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " (CI=true: the Celery test must run, not skip)")
        pytest.skip(msg)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABUILD_", "DAGSTER_"))}
    with CeleryWorkers(tmp_path_factory.mktemp("celery"), 2, BROKER, env=env) as w:
        yield w


def _celery_hosts(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    """The Celery workers that executed the run's steps, from the run's engine events."""
    hosts = set()
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        event = record.dagster_event
        if "in celery worker" in (event.message or ""):
            hosts.add(str(event.engine_event_data.metadata["Celery worker"].value))
    return hosts


def test_a_three_wave_plan_built_through_two_celery_workers_lands_every_manifest_once(
        workers, catalog_url, tmp_path):
    home = tmp_path / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    config = yaml.safe_load((REPO / "deploy" / "celery" / "celery.yaml").read_text())
    config["execution"]["config"]["config_source"]["task_default_queue"] = workers.queue
    (tmp_path / "celery.yaml").write_text(yaml.safe_dump(config))  # the documented file
    env = {**workers.env, "DAGSTER_HOME": str(home), "DATABUILD_CELERY_BROKER": BROKER,
           "DATABUILD_GRAPH": "benchmarks.daily:graph", "DATABUILD_CATALOG_URL": catalog_url,
           "DATABUILD_DATA_ROOT": str(tmp_path / "data"), "DATABUILD_HOME": str(tmp_path / "s"),
           "DATABUILD_PROJECT_DIR": str(tmp_path)}

    proc = subprocess.run([str(BIN / "databuild"), "build", "--dagster", "--celery",
                           str(tmp_path / "celery.yaml"), "--json", *daily.refs(DAYS)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=500)

    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:], workers.logs())
    summary = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert summary["ok"] and summary["partitions_built"] == 3 * DAYS
    instance = dg.DagsterInstance.from_config(str(home))
    runs = sorted(instance.get_runs(), key=lambda r: instance.get_run_record_by_id(
        r.run_id).create_timestamp)
    assert [r.job_name for r in runs] == ["extract__job", "transform__job", "publish__job"]
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)  # three waves, in order
    ours = tuple(f"{name}@" for name in workers.names)
    for run in runs:  # every step ran in one of the two workers, none in the CLI process
        hosts = _celery_hosts(instance, run.run_id)
        assert len(hosts) == 1 and all(h.startswith(ours) for h in hosts), (run.job_name, hosts)
    catalog = Catalog.open(catalog_url)
    graph = daily.graph.bind(catalog, tmp_path / "data")
    refs = [p.format(date=d) for d in daily.days(DAYS)
            for p in (daily.EXTRACT, daily.TRANSFORM, daily.PUBLISH)]
    history = [m for ds in ("extract", "transform", "publish")
               for m in catalog.manifest_history(dataset=ds, limit=100)]
    counts = {r: sum(m.ref == r for m in history) for r in refs}
    assert counts == dict.fromkeys(refs, 1)  # each partition written exactly once
    run_of_job = {r.job_name.removesuffix("__job"): r.run_id for r in runs}
    assert all(m.run_id == run_of_job[m.ref.split("/")[0]] for m in history)
    assert {s.state for s in graph.status(refs).values()} == {"live"}
    catalog.dispose()
