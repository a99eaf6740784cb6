"""A dbt project nobody here wrote (tests/support/jaffle_like, copied out of the repository):
seeds, staging and mart models, generic and singular tests, its own profile name. It runs on
dev (DuckDB) and prod (a fresh PostgreSQL database) through `databuild pipelines run`, and
through `dagster job execute` on the real code location; its docs artifacts are kept."""

import json
import os
import subprocess
import sys

import duckdb
import sqlalchemy as sa

from tests.support.pipelines import REPO, outside_project

TICK = "2024-01-03T06:00:00+00:00"  # {{ scheduled_date }} -> as_of 2024-01-03: orders 1..3


def _env(tmp_path) -> dict:
    (tmp_path / "dh").mkdir(exist_ok=True)
    return {**os.environ, "DATABUILD_HOME": str(tmp_path / "home"),
            "DAGSTER_HOME": str(tmp_path / "dh"), "PYTHONPATH": str(REPO),
            "DATABUILD_PIPELINES_FILE": str(tmp_path / "pipelines.yaml")}


def _databuild(tmp_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "databuild_assets.cli", *args],
                          env=_env(tmp_path), cwd=tmp_path, capture_output=True, text=True,
                          timeout=1200)


def _artifacts(tmp_path, name) -> set[str]:
    out = _databuild(tmp_path, "pipelines", "artifacts", name)
    assert out.returncode == 0, out.stderr
    return {line.strip().split("  ")[0] for line in out.stdout.splitlines()[1:]}


def _assert_docs_kept(names: set[str]):
    assert {"dbt_docs_generate/index.html", "dbt_docs_generate/catalog.json",
            "dbt_docs_generate/manifest.json", "dbt_build/run_results.json",
            "dbt_build/manifest.json"} <= names


def test_an_outside_project_runs_on_duckdb_through_the_cli_and_keeps_its_docs(tmp_path):
    outside_project(tmp_path)
    out = _databuild(tmp_path, "pipelines", "run", "jaffle_dev", "--tick", TICK)
    assert out.returncode == 0, out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert [ln.split()[:2] for ln in lines[:2]] == [["succeeded", "jaffle_dev__dbt_build"],
                                                   ["succeeded", "jaffle_dev__dbt_docs_generate"]]
    assert "succeeded (2 succeeded)" in lines[-1]
    assert len(lines) == 3  # quiet: no Dagster events, no dbt chatter
    con = duckdb.connect(str(tmp_path / "warehouse" / "dev.duckdb"), read_only=True)
    assert con.execute("select count(*) from main.customers").fetchone() == (4,)
    assert con.execute("select order_id, amount from main.orders order by 1").fetchall() == [
        (1, 10.0), (2, 20.0), (3, 26.0)]
    assert str(con.execute("select as_of from main.run_info").fetchone()[0]) == "2024-01-03"
    con.close()
    _assert_docs_kept(_artifacts(tmp_path, "jaffle_dev"))
    results = json.loads(_databuild(tmp_path, "pipelines", "artifacts", "jaffle_dev", "--print",
                                    "dbt_build/run_results.json").stdout)
    kinds = {r["unique_id"].split(".")[0] for r in results["results"]}
    assert kinds == {"seed", "model", "test"}
    assert all(r["status"] in ("success", "pass") for r in results["results"])


def test_an_outside_project_runs_on_a_fresh_postgresql_database_as_prod(tmp_path, pg_url):
    db = sa.engine.make_url(pg_url).database
    outside_project(tmp_path, pg_db=db)
    out = _databuild(tmp_path, "pipelines", "run", "jaffle_prod", "--tick", TICK)
    assert out.returncode == 0, out.stdout + out.stderr
    eng = sa.create_engine(sa.engine.make_url(pg_url).set(drivername="postgresql+psycopg2"))
    with eng.connect() as c:
        customers = c.execute(sa.text("select customer_id, number_of_orders from "
                                      "analytics.customers order by 1")).all()
        as_of = c.execute(sa.text("select as_of from analytics.run_info")).scalar_one()
    eng.dispose()
    assert [tuple(r) for r in customers] == [(1, 1), (2, 0), (3, 1), (4, 1)]
    assert str(as_of) == "2024-01-03"
    _assert_docs_kept(_artifacts(tmp_path, "jaffle_prod"))


def test_dagster_launches_the_outside_pipeline_job_from_the_code_location(tmp_path):
    outside_project(tmp_path)
    out = subprocess.run([str(REPO / ".venv" / "bin" / "dagster"), "job", "execute", "-m",
                          "databuild_assets.definitions", "-j", "jaffle_dev"],
                         env=_env(tmp_path), cwd=tmp_path, capture_output=True, text=True,
                         timeout=1500)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]
    assert "RUN_SUCCESS" in out.stdout + out.stderr
    con = duckdb.connect(str(tmp_path / "warehouse" / "dev.duckdb"), read_only=True)
    # launched now, not for a fixed day: every order up to today is in
    assert con.execute("select count(*) from main.orders").fetchone() == (6,)
    con.close()
    _assert_docs_kept(_artifacts(tmp_path, "jaffle_dev"))


def test_under_warn_a_failed_test_is_a_warned_step_naming_the_models_dbt_skipped(tmp_path):
    import yaml

    path = outside_project(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["pipelines"] = [{"name": "jaffle_warn", "target": "dev", "dbt_test_failures": "warn",
                          "tasks": [{"slug": "dbt-build", "vars": {"inject_bad_status": True}}]}]
    path.write_text(yaml.safe_dump(data))
    out = _databuild(tmp_path, "pipelines", "run", "jaffle_warn")
    assert out.returncode == 0, out.stdout + out.stderr
    step = out.stdout.splitlines()[0]
    assert step.startswith("warned    jaffle_warn__dbt_build")
    assert "test(s) failed: test.jaffle_like.accepted_values_stg_orders_status" in step
    skipped = step.split("node(s) skipped: ", 1)[1]
    assert skipped.startswith("model ") and "model orders" in skipped
    assert "model customers" in skipped
    assert "succeeded with warnings" in out.stdout.splitlines()[-1]


def test_a_dbt_failure_before_any_result_says_what_dbt_said(tmp_path):
    """An unreachable warehouse: dbt stops before run results; the message carries dbt's own
    error lines, not only its exit code."""
    from resources.dbt import run_dbt
    from resources.targets import WarehouseTarget

    outside_project(tmp_path)
    nowhere = WarehouseTarget("prod", "postgres", host="127.0.0.1", port=1, database="nope")
    out = run_dbt("run", {}, nowhere, project_dir=tmp_path / "analytics",
                  artifacts_dir=tmp_path / "artifacts")
    assert not out.ok
    assert out.message.startswith("dbt run errors: ")
    assert "connection" in out.message.lower() or "connect" in out.message.lower(), out.message
    assert (tmp_path / "artifacts" / "dbt.log").is_file()  # dbt's full log is kept too
