"""The code location contract: EVERY job in the real `databuild_assets.definitions` runs when
Dagster launches it, in its own process (`dagster job execute`, as a run worker does), with
its effects checked. Jobs are enumerated from the code location, so a new job is covered
without editing this test; a job that needs launch config gets it from ``CONFIG`` below and
the test fails, naming the job, when one is missing.

Graph: the shop example (no external services); pipelines: a pipelines file over the repo's
dbt project on a DuckDB warehouse seeded with reviews."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml

from databuild_assets.core import Catalog
from databuild_assets.core.wants import list_wants
from sensors.decisions import Batch
from sensors.runs import AUTOMATION_TAG, run_request
from tests.support.pipelines import seed_duckdb, write_file

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DAY = "2024-01-08"
GRAPH = "databuild_assets.examples.shop:graph"
REQUEST_REF = "trailing_revenue/date=2024-01-09"
# launch config of jobs that need one (asset jobs get theirs from the plan)
CONFIG = {"request_build": {"ops": {"request_build_op": {"config": {
    "refs": [REQUEST_REF], "ttl": "1h", "comment": "contract test"}}}}}


@pytest.fixture(scope="module")
def location(tmp_path_factory):
    root = tmp_path_factory.mktemp("contract")
    warehouse = root / "dev.duckdb"
    seed_duckdb(warehouse)
    pipelines = write_file(root, [{
        "name": "nightly", "target": "dev", "schedule": {"cron": "0 6 * * *"},
        "tasks": [{"slug": "dbt-deps"}, {"slug": "dbt-build", "vars": {"date": "2024-01-03"}}]}],
        {"dev": {"type": "duckdb", "path": str(warehouse), "schema": "main"}})
    home = root / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry: {enabled: false}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABUILD_", "DAGSTER_"))}
    env.update(DATABUILD_HOME=str(root / "state"), DAGSTER_HOME=str(home), PYTHONPATH=str(REPO),
               DATABUILD_GRAPH=GRAPH, DATABUILD_PIPELINES_FILE=str(pipelines))
    return root, env, warehouse


def _code_location_jobs(env) -> list[str]:
    """The job names of the real code location, loaded as Dagster loads it."""
    code = ("import json; from databuild_assets.definitions import defs; "
            "print(json.dumps(sorted(j.name for j in defs().get_repository_def().get_all_jobs()"
            " if not j.name.startswith('__'))))")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=300, cwd=REPO)
    assert p.returncode == 0, p.stderr[-3000:]
    return json.loads(p.stdout.strip().splitlines()[-1])


def _launch(env, root: Path, job: str, run_config: dict | None, tags: dict) -> str:
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


@pytest.mark.timeout(2400)  # a process per job on shared cores; not an assertion on speed
def test_every_job_of_the_code_location_runs_when_dagster_launches_it(location):
    root, env, warehouse = location
    jobs = _code_location_jobs(env)
    from databuild_assets.cli import load_graph

    catalog = Catalog.open(f"sqlite:///{root / 'state' / 'catalog.db'}")
    graph = load_graph(GRAPH).bind(catalog, root / "state" / "data")
    # one ref of every dataset on DAY: the plan from an empty catalog covers every asset job
    wanted = sorted({p.format(**{d.name: (DAY if d.kind == "date" else d.values[0])
                                 for d in p.dims}) for j in graph.jobs for p in j.outputs})
    plan = graph.plan(wanted)
    by_job: dict[str, list[str]] = {}
    for node in plan.nodes:  # topological: upstream jobs first
        by_job.setdefault(node.job, []).extend(sorted(node.outputs))
    asset_jobs = [j for j in jobs if j.endswith("__job")]
    assert sorted(f"{label}__job" for label in by_job) == sorted(asset_jobs)
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    launched = []
    for label, refs in by_job.items():
        req, _add = run_request(graph, Batch(label, tuple(refs)), "contract")
        tags = {k: v for k, v in req.tags.items() if k != AUTOMATION_TAG}
        launched.append(_launch(env, root, req.job_name, req.run_config, tags))
        status = graph.status(refs)
        assert {r: s.state for r, s in status.items()} == dict.fromkeys(refs, "live"), label
        (run,) = instance.get_runs(dg.RunsFilter(job_name=req.job_name), limit=1)
        for m in catalog.manifests(s.manifest_id for s in status.values()).values():
            assert m.run_id == run.run_id  # built by that Dagster run
        for p in graph.registry.jobs[label].outputs:
            assert instance.get_latest_materialization_event(dg.AssetKey(p.dataset)), p.dataset
    for job in [j for j in jobs if j not in asset_jobs]:
        launched.append(_launch(env, root, job, CONFIG.get(job), {}))
    assert sorted(launched) == jobs

    (want,) = list_wants(catalog)  # request_build
    assert want.refs == (REQUEST_REF,) and want.comment == "contract test"
    con = duckdb.connect(str(warehouse), read_only=True)  # the pipeline's and manual dbt runs
    tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    con.close()
    assert {"stg_reviews", "categorized_reviews", "daily_category_summary"} <= tables
    runs = instance.get_runs()
    assert {r.job_name for r in runs} >= set(jobs)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    catalog.dispose()
