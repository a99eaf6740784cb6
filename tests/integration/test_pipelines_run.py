"""Pipelines run as Dagster runs against the real dbt project (DuckDB and PostgreSQL)."""

import json
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import sqlalchemy as sa

from databuild_assets.dagster.sync import ensure_instance
from databuild_assets.pipeline_runs import run_pipeline
from resources.dagster_pipelines import pipeline_job
from resources.pipelines import load
from tests.support.git_server import make_bare_repo, serve
from tests.support.pipelines import REPO, seed_duckdb, seed_postgres, write_file

DATE = {"date": "2024-01-03"}


def _steps(result):
    return [e.step_key for e in result.all_events if e.event_type_value == "STEP_START"]


@pytest.fixture
def dev(tmp_path):
    seed_duckdb(tmp_path / "wh.duckdb")
    return {"dev": {"type": "duckdb", "path": str(tmp_path / "wh.duckdb")}}


def test_a_pipeline_declared_out_of_order_runs_in_the_enforced_order_on_duckdb(tmp_path, dev):
    f = write_file(tmp_path, [{"name": "nightly", "target": "dev", "tasks": [
        {"slug": "dbt-build", "vars": DATE},
        {"slug": "shell", "args": [sys.executable, "-c", "print('hello')"]},
        {"slug": "dbt-deps"}, {"slug": "dbt-clean"}]}], dev)
    job = pipeline_job(load(f), load(f).pipeline("nightly"))
    deps = job.graph.dependency_structure
    assert [n.name for n in job.graph.nodes_in_topological_order] == [
        "nightly__dbt_clean", "nightly__dbt_deps", "nightly__dbt_build", "nightly__shell"]
    assert deps is not None
    with run_pipeline(str(f), "nightly", ensure_instance(tmp_path / "dh")) as result:
        assert result.success
        assert _steps(result) == ["nightly__dbt_clean", "nightly__dbt_deps", "nightly__dbt_build",
                                  "nightly__shell"]
    rows = duckdb.connect(str(tmp_path / "wh.duckdb")).execute(
        "select category, n_reviews from daily_category_summary order by 1").fetchall()
    assert rows == [("comedy", 1), ("news", 1)]


@pytest.mark.parametrize("policy, succeeds", [("warn", True), ("fail", False)])
def test_a_failing_dbt_test_warns_or_fails_the_pipeline_as_declared(tmp_path, dev, policy,
                                                                      succeeds):
    f = write_file(tmp_path, [{"name": "p", "target": "dev", "dbt_test_failures": policy,
                               "tasks": [{"slug": "dbt-build", "vars": {
                                   **DATE, "force_test_failure": True}}]}], dev)
    inst = ensure_instance(tmp_path / "dh")
    with run_pipeline(str(f), "p", inst) as result:
        assert result.success is succeeds
        text = " ".join(repr(e) for e in inst.all_logs(result.run_id))
        assert "1 test(s) failed: test.podcast_reviews.assert_no_forced_failure" in text
        outputs = [e.event_specific_data.metadata for e in result.all_events
                   if e.event_type_value == "STEP_OUTPUT"]
        if succeeds:  # warned, not a plain success; the artifacts are kept
            assert outputs[0]["status"].value == "warned"
            assert (Path(outputs[0]["artifacts"].value) / "run_results.json").is_file()
        else:
            assert outputs == []


def test_the_prod_target_runs_the_same_project_on_postgresql(tmp_path, pg_url):
    seed_postgres(pg_url, "analytics")
    dbname = sa.engine.make_url(pg_url).database
    f = write_file(tmp_path, [{"name": "prod_nightly", "target": "prod", "tasks": [
        {"slug": "dbt-build", "vars": DATE}]}],
        {"prod": {"type": "postgres", "host": "127.0.0.1", "port": 5432, "user": "postgres",
                  "database": dbname, "schema": "analytics"}})
    with run_pipeline(str(f), "prod_nightly", ensure_instance(tmp_path / "dh")) as result:
        assert result.success
    eng = sa.create_engine(sa.engine.make_url(pg_url).set(drivername="postgresql+psycopg2"))
    with eng.connect() as c:
        rows = c.execute(sa.text("select category, n_reviews from analytics.daily_category_summary"
                                 " order by 1")).all()
    eng.dispose()
    assert [tuple(r) for r in rows] == [("comedy", 1), ("news", 1)]


def test_the_git_token_never_appears_in_logs_or_events_even_when_git_fails(
        tmp_path, dev, monkeypatch, caplog):
    token = "tok_" + "s3cr3t" * 4
    bare = make_bare_repo(tmp_path / "git")
    server, url = serve(bare.parent, token)
    monkeypatch.setenv("ANALYTICS_GIT_TOKEN", token)
    try:
        f = write_file(tmp_path, [
            {"name": "ok", "target": "dev", "tasks": [{"slug": "git-clone", "repo": f"{url}/analytics.git",
                                                       "dest": str(tmp_path / "co"),
                                                       "token_env": "ANALYTICS_GIT_TOKEN"}]},
            {"name": "bad", "target": "dev", "tasks": [{"slug": "git-pull",
                                                        "repo": f"{url}/missing.git",
                                                        "dest": str(tmp_path / "co2"),
                                                        "token_env": "ANALYTICS_GIT_TOKEN"}]}], dev)
        inst = ensure_instance(tmp_path / "dh")
        caplog.set_level(logging.DEBUG)
        with run_pipeline(str(f), "ok", inst) as ok:
            assert ok.success
        assert (tmp_path / "co" / "README.md").exists()
        with run_pipeline(str(f), "bad", inst) as bad:
            assert not bad.success
        records = [json.dumps(e.to_dict() if hasattr(e, "to_dict") else str(e), default=str)
                   for r in (ok, bad) for e in inst.all_logs(r.run_id)]
        blob = "\n".join(records) + caplog.text
        assert "missing.git" in blob  # the failure itself is reported
        import base64
        assert token not in blob
        assert base64.b64encode(f"x-access-token:{token}".encode()).decode() not in blob
    finally:
        server.shutdown()


def test_two_overlapping_pipelines_take_turns_on_the_shared_dbt_lock(tmp_path, dev):
    f = write_file(tmp_path, [
        {"name": name, "target": "dev", "tasks": [{"slug": "dbt-build", "vars": DATE}]}
        for name in ("first", "second")], dev)
    home = tmp_path / "dh"
    ensure_instance(home)
    env = {**os.environ, "DAGSTER_HOME": str(home), "DATABUILD_HOME": str(tmp_path / "state"),
           "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "databuild_assets.cli"]
    procs = [subprocess.Popen(cmd + ["pipelines", "run", n, "--file", str(f)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for n in ("first", "second")]
    seen_holder, cli_answers = [], []

    def poll():  # the lock table `databuild locks` prints, read in process: a CLI start
        from resources.locks import lock_table  # takes ~20 s on a loaded CI machine

        inst = dg.DagsterInstance.from_config(str(home))
        while any(p.poll() is None for p in procs):
            seen_holder.extend(r for r in lock_table(inst) if r["state"] == "held")
            time.sleep(0.3)

    def poll_cli():
        while any(p.poll() is None for p in procs):
            out = subprocess.run(cmd + ["locks", "--json"], env=env, capture_output=True,
                                 text=True)
            if out.returncode == 0:
                cli_answers.append(json.loads(out.stdout or "[]"))
            time.sleep(0.5)

    threads = [threading.Thread(target=poll), threading.Thread(target=poll_cli)]
    for t in threads:
        t.start()
    outs = [p.communicate(timeout=300)[0] for p in procs]
    for t in threads:
        t.join()
    assert cli_answers and all(isinstance(a, list) for a in cli_answers)
    assert all(p.returncode == 0 for p in procs), outs
    inst = dg.DagsterInstance.from_config(str(home))
    spans = []
    for run in inst.get_runs():
        evs = {e.dagster_event.event_type_value: e.timestamp for e in inst.all_logs(run.run_id)
               if e.dagster_event and (e.step_key or "").endswith("__dbt_build")
               and e.dagster_event.event_type_value in ("STEP_START", "STEP_SUCCESS")}
        spans.append((evs["STEP_START"], evs["STEP_SUCCESS"]))
    (a0, a1), (b0, b1) = sorted(spans)
    assert a1 <= b0, f"dbt_build ran twice at once: {spans}"
    starts = sorted(inst.get_run_records(), key=lambda r: r.create_timestamp.timestamp())
    if starts[1].create_timestamp.timestamp() < a1:  # the second run had to wait: it says so
        assert any("waiting   for lock dbt:dbt_project:dev, held by run" in o for o in outs), outs
    assert seen_holder and seen_holder[0]["lock"].startswith("dbt:dbt_project:dev")
    assert seen_holder[0]["pipeline"] in ("first", "second")


def test_with_continue_on_sync_failure_the_failed_sync_is_red_the_others_run_and_dbt_waits(
        tmp_path, dev, monkeypatch):
    from tests.support.fake_airbyte import FakeAirbyte, Fault

    with FakeAirbyte() as fake:
        monkeypatch.setenv("AB_CLIENT_ID", fake.client_id)
        monkeypatch.setenv("AB_CLIENT_SECRET", fake.client_secret)
        common = {"rest_api_base_url": fake.rest_url, "configuration_api_base_url": fake.config_url,
                  "workspace_id": fake.workspace_id, "client_id_env": "AB_CLIENT_ID",
                  "client_secret_env": "AB_CLIENT_SECRET", "poll_interval": 0.05,
                  "request_retry_delay": 0.05}
        conns = {"orders": {**common, "connection_id": fake.add_connection("c1", Fault("failed"))},
                 "users": {**common, "connection_id": fake.add_connection("c2", Fault())}}
        f = write_file(tmp_path, [{"name": "elt", "target": "dev",
                                   "continue_on_sync_failure": True, "tasks": [
                                       {"slug": "dbt-run", "vars": DATE},
                                       {"slug": "airbyte-sync", "connection": "orders"},
                                       {"slug": "airbyte-sync", "connection": "users"}]}],
                       dev, conns)
        inst = ensure_instance(tmp_path / "dh")
        with run_pipeline(str(f), "elt", inst) as result:
            assert not result.success
            steps = {e.step_key: e.event_type_value for e in result.all_events
                     if e.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED")}
        assert steps["elt__airbyte_sync_orders"] == "STEP_FAILURE"  # red, not green
        assert steps["elt__airbyte_sync_users"] == "STEP_SUCCESS"  # ran all the same
        assert "elt__dbt_run" not in steps or steps["elt__dbt_run"] == "STEP_SKIPPED"
        assert len(fake.jobs) == 2
        # the task locks are free again
        for key in ("airbyte:orders", "airbyte:users"):
            assert not inst.event_log_storage.get_concurrency_info(key).claimed_slots


def test_the_code_location_refuses_each_malformed_file_with_the_validate_message(
        tmp_path, monkeypatch):
    """Loading `databuild_assets.definitions` (Dagster's lazy definitions) with a bad file
    fails with exactly the message `pipelines validate` prints: no traceback, no half load."""
    from databuild_assets.definitions import defs
    from resources.pipelines import PipelinesConfigError
    from tests.support.pipelines import MALFORMED

    monkeypatch.setenv("DATABUILD_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    for i, case in enumerate(MALFORMED):
        folder = tmp_path / f"case{i}"
        folder.mkdir()
        path = case.write(folder)
        monkeypatch.setenv("DATABUILD_PIPELINES_FILE", str(path))
        with pytest.raises(PipelinesConfigError) as direct:
            load(path)
        with pytest.raises(PipelinesConfigError) as located:
            defs()
        assert str(located.value) == str(direct.value), case.id
        assert located.value.problems[0].startswith(case.path), case.id
    cli = subprocess.run([sys.executable, "-m", "databuild_assets.cli", "pipelines", "validate",
                          "--file", str(path)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "500"})
    assert cli.returncode == 2
    assert str(direct.value).splitlines()[0] in cli.stderr
    assert "Traceback" not in cli.stderr


@pytest.mark.parametrize("lock, held_between_steps", [("pipeline", True), ("task", False)])
def test_a_pipeline_wide_lock_is_held_between_steps_and_freed_at_the_end(tmp_path, dev, lock,
                                                                        held_between_steps):
    home = tmp_path / "dh"
    inst = ensure_instance(home)
    check = ("import dagster as dg, sys; i = dg.DagsterInstance.get(); "
             "info = i.event_log_storage.get_concurrency_info('dbt:dbt_project:dev'); "
             "sys.exit(0 if info.claimed_slots else 3)")
    f = write_file(tmp_path, [{"name": "locked", "target": "dev", "lock": lock, "tasks": [
        {"slug": "dbt-clean"},
        {"slug": "shell", "args": [sys.executable, "-c", check],
         "env": {"DAGSTER_HOME": str(home)}}]}], dev)
    with run_pipeline(str(f), "locked", inst) as result:
        assert result.success is held_between_steps  # the shell step sees the dbt lock held
    info = inst.event_log_storage.get_concurrency_info("dbt:dbt_project:dev")
    assert not info.claimed_slots and not info.pending_steps


def test_every_task_of_a_pipeline_is_also_a_manual_job_that_runs_alone(tmp_path, dev):
    from resources.dagster_pipelines import manual_jobs

    f = write_file(tmp_path, [{"name": "nightly", "target": "dev", "tasks": [
        {"slug": "git-pull", "repo": "https://example.invalid/analytics.git",
         "dest": str(tmp_path / "co")},
        {"slug": "dbt-clean"}, {"slug": "dbt-deps"}, {"slug": "dbt-run"},
        {"slug": "dbt-docs-generate"},
        {"slug": "shell", "args": [sys.executable, "-c", "print('alone')"]}]}], dev)
    jobs = {j.name: j for j in manual_jobs(load(f))}
    assert set(jobs) == {f"manual__nightly__{t}" for t in (
        "git_pull", "dbt_clean", "dbt_deps", "dbt_run", "dbt_docs_generate", "shell")}
    with dg.instance_for_test() as instance:
        result = jobs["manual__nightly__shell"].execute_in_process(instance=instance)
    assert result.success
