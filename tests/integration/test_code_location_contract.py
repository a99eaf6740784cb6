"""The code location contract, asset jobs: EVERY `<job>__job` of the real
`databuild_assets.definitions` runs when Dagster launches it, in its own process (`dagster job
execute`, as a run worker does), with its effects checked. Jobs are enumerated from the code
location, so a new job is covered without editing this test. The other jobs (request_build,
pipelines) are launched by test_code_location_contract_other_jobs.py: the two files run side by
side under `make test`.

Graph: the shop example (no external services); pipelines: a pipelines file over the repo's
dbt project on a DuckDB warehouse seeded with reviews (tests/support/code_location.py).
Jobs whose plan nodes do not depend on each other are launched two at a time."""

import threading

import dagster as dg
import pytest

from databuild_assets.core import Catalog
from databuild_assets.dagster.run_contract import AUTOMATION_TAG
from sensors.decisions import Batch
from sensors.runs import run_request
from tests.support.code_location import (
    GRAPH,
    code_location_jobs,
    launch,
    location_env,
    run_after,
)

pytestmark = pytest.mark.integration
DAY = "2024-01-08"


@pytest.fixture(scope="module")
def location(tmp_path_factory):
    root = tmp_path_factory.mktemp("contract")
    env, warehouse = location_env(root)
    return root, env, warehouse


@pytest.mark.timeout(2400)  # a process per job on shared cores; not an assertion on speed
def test_every_asset_job_of_the_code_location_runs_when_dagster_launches_it(location):
    root, env, _warehouse = location
    jobs = code_location_jobs(env)
    from databuild_assets.cli import load_graph

    catalog = Catalog.open(f"sqlite:///{root / 'state' / 'catalog.db'}")
    graph = load_graph(GRAPH).bind(catalog, root / "state" / "data")
    # one ref of every dataset on DAY: the plan from an empty catalog covers every asset job
    wanted = sorted({p.format(**{d.name: (DAY if d.kind == "date" else d.values[0])
                                 for d in p.dims}) for j in graph.jobs for p in j.outputs})
    plan = graph.plan(wanted)
    by_job: dict[str, list[str]] = {}
    label_of = {node.hash: node.job for node in plan.nodes}
    after: dict[str, set[str]] = {}  # job -> the jobs whose outputs it reads
    for node in plan.nodes:
        by_job.setdefault(node.job, []).extend(sorted(node.outputs))
        after.setdefault(node.job, set()).update(
            label_of[h] for h in plan.upstream.get(node.hash, ()) if label_of[h] != node.job)
    asset_jobs = [j for j in jobs if j.endswith("__job")]
    assert sorted(f"{label}__job" for label in by_job) == sorted(asset_jobs)
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    checking = threading.Lock()  # one thread at a time reads the catalog and the instance

    def run_job(label: str) -> None:
        refs = by_job[label]
        with checking:
            req, _add = run_request(graph, Batch(label, tuple(refs)), "contract")
        tags = {k: v for k, v in req.tags.items() if k != AUTOMATION_TAG}
        launch(env, root, req.job_name, req.run_config, tags)
        with checking:
            check(label, refs, req.job_name)

    def check(label: str, refs: list[str], job_name: str) -> None:
        status = graph.status(refs)
        assert {r: s.state for r, s in status.items()} == dict.fromkeys(refs, "live"), label
        (run,) = instance.get_runs(dg.RunsFilter(job_name=job_name), limit=1)
        for m in catalog.manifests(s.manifest_id for s in status.values()).values():
            assert m.run_id == run.run_id  # built by that Dagster run
        for p in graph.registry.jobs[label].outputs:
            assert instance.get_latest_materialization_event(dg.AssetKey(p.dataset)), p.dataset

    launched = run_after(after, run_job, width=2)  # upstream jobs first
    assert sorted(f"{label}__job" for label in launched) == asset_jobs
    runs = instance.get_runs()
    assert {r.job_name for r in runs} >= set(asset_jobs)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    catalog.dispose()
