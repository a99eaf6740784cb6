"""The code location contract, every job that is not an asset job (`request_build`, the
pipelines' jobs and their manual per-task jobs): each runs when Dagster launches it, in its own
process (`dagster job execute`), with its effects checked. Jobs are enumerated from the code
location; a job that needs launch config gets it from ``CONFIG`` below and the test fails,
naming the job, when one is missing. The asset jobs: test_code_location_contract.py.

`request_build` is launched beside the first pipeline job; the pipeline jobs, which share one
dbt project and one DuckDB warehouse, one after another."""

import dagster as dg
import duckdb
import pytest

from databuild_assets.core import Catalog
from databuild_assets.core.wants import list_wants
from tests.support.code_location import code_location_jobs, launch, location_env, run_after

pytestmark = pytest.mark.integration
REQUEST_REF = "trailing_revenue/date=2024-01-09"
# launch config of jobs that need one
CONFIG = {"request_build": {"ops": {"request_build_op": {"config": {
    "refs": [REQUEST_REF], "ttl": "1h", "comment": "contract test"}}}}}
ALONGSIDE = {"request_build"}  # touches neither the dbt project nor the warehouse


@pytest.mark.timeout(2400)  # a process per job on shared cores; not an assertion on speed
def test_every_other_job_of_the_code_location_runs_when_dagster_launches_it(tmp_path):
    env, warehouse = location_env(tmp_path)
    jobs = [j for j in code_location_jobs(env) if not j.endswith("__job")]
    assert "request_build" in jobs and "nightly" in jobs
    serial = [j for j in jobs if j not in ALONGSIDE]
    after = {j: set(serial[:i]) for i, j in enumerate(serial)}  # one after another
    after.update(dict.fromkeys([j for j in jobs if j in ALONGSIDE], set()))
    launched = run_after(after, lambda job: launch(env, tmp_path, job, CONFIG.get(job), {}))
    assert sorted(launched) == jobs

    catalog = Catalog.open(f"sqlite:///{tmp_path / 'state' / 'catalog.db'}")
    (want,) = list_wants(catalog)  # request_build
    assert want.refs == (REQUEST_REF,) and want.comment == "contract test"
    catalog.dispose()
    con = duckdb.connect(str(warehouse), read_only=True)  # the pipeline's and manual dbt runs
    tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    con.close()
    assert {"stg_reviews", "categorized_reviews", "daily_category_summary"} <= tables
    runs = dg.DagsterInstance.from_config(env["DAGSTER_HOME"]).get_runs()
    assert {r.job_name for r in runs} >= set(jobs)
    assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
