"""Scale-out on Dagster's Celery executor: `build --dagster` with its steps sent through the
local RabbitMQ to two Celery worker processes (`dagster-celery worker start`), as
deploy/celery documents. Fails (not skips) under CI=true when RabbitMQ is unreachable."""

from __future__ import annotations

import os

import dagster as dg
import pytest

from benchmarks import daily
from benchmarks.celery_workers import DEFAULT_BROKER, CeleryWorkers, broker_problem
from databuild_assets.core import Catalog
from databuild_assets.dagster.launcher import build_with_dagster

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

BROKER = os.environ.get("DATABUILD_TEST_CELERY_BROKER", DEFAULT_BROKER)
DAYS = 4


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
    catalog = Catalog.open(catalog_url)
    graph = daily.graph.bind(catalog, tmp_path / "data")

    result = build_with_dagster(graph, "benchmarks.daily:graph", daily.refs(DAYS),
                                dagster_home=home, celery=workers.config)

    assert result.ok, (result.failed, result.runs, workers.logs())
    assert [r["job"] for r in result.runs] == ["extract", "transform", "publish"]  # 3 waves
    instance = dg.DagsterInstance.from_config(str(home))
    ours = {f"{name}@" for name in workers.names}
    for run in result.runs:  # every step ran in one of the two workers, none in this process
        hosts = _celery_hosts(instance, run["run_id"])
        assert len(hosts) == 1 and any(h.startswith(tuple(ours)) for h in hosts), (run, hosts)
    refs = [p.format(date=d) for d in daily.days(DAYS)
            for p in (daily.EXTRACT, daily.TRANSFORM, daily.PUBLISH)]
    history = [m for ds in ("extract", "transform", "publish")
               for m in catalog.manifest_history(dataset=ds, limit=100)]
    counts = {r: sum(m.ref == r for m in history) for r in refs}
    assert counts == dict.fromkeys(refs, 1)  # each partition written exactly once
    run_of_job = {r["job"]: r["run_id"] for r in result.runs}
    assert all(m.run_id == run_of_job[m.ref.split("/")[0]] for m in history)
    assert {s.state for s in graph.status(refs).values()} == {"live"}
    catalog.dispose()
