"""Task locks that outlive their run: dead holders are released (automatically and by hand),
a run waiting for a lock honours SIGTERM (and, launched by Dagster, a terminate request),
`databuild locks` never invents an instance, and a SIGKILLed `databuild pipelines run` leaves
no process behind."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid

import dagster as dg
import pytest
import sqlalchemy as sa
from dagster._core.events import DagsterEvent, DagsterEventType, EngineEventData

from databuild_assets.core.errors import ConfigError
from databuild_assets.dagster.sync import ensure_instance
from resources.locks import existing_instance, lock_table, release, release_dead_holders
from tests.support.pipelines import REPO
from tests.support.procs import processes_with_env, wait_until

pytestmark = pytest.mark.integration
KEY = "dbt:proj:dev"


@dg.op
def _noop():
    pass


@dg.job
def _holder_job():
    _noop()


def _started_run_holding(inst, pid: int, key: str = KEY) -> str:
    """A STARTED run whose process is ``pid`` and which holds ``key`` (what a SIGKILLed run
    leaves in the instance), written through Dagster's own storage calls."""
    run = inst.create_run_for_job(_holder_job)
    inst.report_dagster_event(DagsterEvent(DagsterEventType.RUN_START.value,
                                           job_name=run.job_name), run.run_id)
    inst.report_engine_event(f"Executing steps in process (pid: {pid})", inst.get_run_by_id(
        run.run_id), EngineEventData.in_process(pid))
    inst.event_log_storage.set_concurrency_slots(key, 1)
    assert inst.event_log_storage.claim_concurrency_slot(key, run.run_id, "_noop").is_claimed
    return run.run_id


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_lock_held_by_a_dead_run_is_released_and_the_run_marked_failed(tmp_path):
    inst = ensure_instance(tmp_path / "dh")
    dead = _started_run_holding(inst, _dead_pid())
    alive = _started_run_holding(inst, os.getpid(), "git:analytics")
    released = release_dead_holders(inst)
    assert [(r["run_id"], r["locks"]) for r in released] == [(dead, [KEY])]
    assert "is gone" in released[0]["why"]
    assert inst.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
    assert not inst.event_log_storage.get_concurrency_info(KEY).claimed_slots
    held = [r for r in lock_table(inst) if r["state"] == "held"]
    assert [(r["lock"], r["run_id"]) for r in held] == [("git:analytics", alive)]


def test_the_daemon_sensor_frees_the_locks_of_dead_runs(tmp_path):
    from resources.locks import dead_lock_sensor

    inst = ensure_instance(tmp_path / "dh")
    dead = _started_run_holding(inst, _dead_pid())
    sensor = dead_lock_sensor()
    result = sensor.evaluate_tick(dg.build_sensor_context(instance=inst))
    assert "released the locks of 1 dead run" in result.skip_message
    assert inst.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
    result = sensor.evaluate_tick(dg.build_sensor_context(instance=inst))
    assert result.skip_message == "no lock is held by a dead run"


def test_release_by_hand_refuses_a_live_holder_unless_forced(tmp_path):
    inst = ensure_instance(tmp_path / "dh")
    alive = _started_run_holding(inst, os.getpid())
    with pytest.raises(ConfigError, match="still running.*--force"):
        release(inst, alive[:8])
    with pytest.raises(ConfigError, match="neither a lock nor a run.*dbt:proj:dev"):
        release(inst, "git:nothing")
    assert [r["run_id"] for r in release(inst, KEY, force=True)] == [alive]
    assert not inst.event_log_storage.get_concurrency_info(KEY).claimed_slots
    assert inst.get_run_by_id(alive).status == dg.DagsterRunStatus.FAILURE


def test_locks_refuses_to_invent_an_instance(tmp_path):
    nowhere = tmp_path / "no-such-home"
    with pytest.raises(ConfigError, match="no Dagster instance at .*DAGSTER_HOME"):
        existing_instance(nowhere)
    env = {**os.environ, "DAGSTER_HOME": str(nowhere), "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", "databuild_assets.cli", "locks"], env=env,
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert "no Dagster instance at" in out.stderr and "Traceback" not in out.stderr
    assert not nowhere.exists()


SLOW_MODEL = """\
{{ config(materialized='table',
          pre_hook="select pg_sleep(600)" if var('slow', false) else "select 1") }}
select 1 as id
"""


def _project(root):
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        "name: lockproj\nversion: '1.0'\nprofile: databuild\nmodel-paths: [models]\n")
    (root / "models" / "slow.sql").write_text(SLOW_MODEL)
    return root


def _cli(args, env):
    return subprocess.Popen([sys.executable, "-m", "databuild_assets.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_a_sigkilled_pipeline_run_leaves_no_process_and_the_next_run_gets_its_lock(
        tmp_path, pg_url):
    """A waits in dbt (a pre-hook sleeping in PostgreSQL) holding dbt:lockproj:prod; B queues
    for the lock and is stopped by SIGTERM; A is SIGKILLed; C gets the lock once the dead
    holder is released, without anyone's help."""
    import yaml

    db = sa.engine.make_url(pg_url).database
    pf = tmp_path / "pipelines.yaml"
    pf.write_text(yaml.safe_dump({
        "dbt_project_dir": str(_project(tmp_path / "proj")),
        "targets": {"prod": {"type": "postgres", "host": "127.0.0.1", "port": 5432,
                             "user": "postgres", "database": db, "schema": "locks"}},
        "pipelines": [{"name": n, "target": "prod", "tasks": [
            {"slug": "dbt-run", "vars": {"slow": n == "slow"}}]}
            for n in ("slow", "queued", "next")]}))
    home = tmp_path / "dh"
    inst = ensure_instance(home)
    marks = {n: uuid.uuid4().hex for n in ("slow", "queued", "next")}
    base = {**os.environ, "DAGSTER_HOME": str(home), "DATABUILD_HOME": str(tmp_path / "st"),
            "PYTHONPATH": str(REPO)}

    def start(name):
        return _cli(["pipelines", "run", name, "--file", str(pf)],
                    {**base, "DATABUILD_TEST_MARK": marks[name]})

    eng = sa.create_engine(sa.engine.make_url(pg_url).set(drivername="postgresql+psycopg2"))

    def sleeping_in_dbt():
        with eng.connect() as c:
            return c.execute(sa.text("select count(*) from pg_stat_activity where query like "
                                     "'%pg_sleep(600)%' and pid <> pg_backend_pid()")).scalar()

    lock = "dbt:proj:prod"
    a = start("slow")
    try:
        wait_until(sleeping_in_dbt, "run A to be inside dbt", limit=300)
        held = inst.event_log_storage.get_concurrency_info(lock).claimed_slots
        assert len(held) == 1
        b = start("queued")
        wait_until(lambda: len(inst.event_log_storage.get_concurrency_info(lock).pending_steps)
                   == 2, "run B to queue for the lock", limit=300)
        b.send_signal(signal.SIGTERM)
        b_out = b.communicate(timeout=120)[0]
        assert b.returncode != 0, b_out
        b_run = next(r for r in inst.get_runs() if r.tags.get("databuild/pipeline") == "queued")
        assert b_run.status == dg.DagsterRunStatus.CANCELED, b_out
        assert processes_with_env("DATABUILD_TEST_MARK", marks["queued"]) == []

        a.kill()  # SIGKILL: no handler runs
        a.wait()
        wait_until(lambda: not processes_with_env("DATABUILD_TEST_MARK", marks["slow"]),
                   "run A's dbt to die with it", limit=30)
        c = start("next")
        c_out = c.communicate(timeout=600)[0]
        assert c.returncode == 0, c_out
        assert "released" in c_out and lock in c_out
        a_run = next(r for r in inst.get_runs() if r.tags.get("databuild/pipeline") == "slow")
        assert a_run.status == dg.DagsterRunStatus.FAILURE
    finally:
        for p in (a,):
            if p.poll() is None:
                p.kill()
        eng.dispose()


LAUNCHER_YAML = """\
telemetry: {enabled: false}
run_coordinator: {module: dagster.core.run_coordinator, class: DefaultRunCoordinator}
concurrency:
  pools: {granularity: op, default_limit: 1}
"""


def test_a_dagster_launched_run_waiting_for_a_lock_ends_canceled_when_terminated(tmp_path):
    """What the UI's Terminate does: the run launcher interrupts the run worker, which used to
    look at the interrupt only when its next step started, so a run queued for a lock stayed
    CANCELING for as long as the lock was held."""
    import yaml

    home = tmp_path / "dh"
    home.mkdir()
    (home / "dagster.yaml").write_text(LAUNCHER_YAML)
    inst = dg.DagsterInstance.from_config(str(home))
    holder = _started_run_holding(inst, os.getpid(), "dbt:proj:dev")  # alive: never released
    pf = tmp_path / "pipelines.yaml"
    pf.write_text(yaml.safe_dump({
        "dbt_project_dir": str(_project(tmp_path / "proj")),
        "targets": {"dev": {"type": "duckdb", "path": str(tmp_path / "wh.duckdb")}},
        "pipelines": [{"name": "waiter", "target": "dev", "tasks": [{"slug": "dbt-run"}]}]}))
    (tmp_path / "workspace.yaml").write_text(
        "load_from:\n  - python_module:\n      module_name: tests.support.lock_wait_defs\n"
        f"      working_directory: {REPO}\n      location_name: locks\n")
    mark = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABUILD_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(home), DATABUILD_HOME=str(tmp_path / "st"),
               DATABUILD_TEST_PIPELINES=str(pf), DATABUILD_TEST_MARK=mark, PYTHONPATH=str(REPO))
    dagster = os.path.join(os.path.dirname(sys.executable), "dagster")
    try:
        with open(tmp_path / "launch.log", "w") as out:  # the code server outlives the CLI
            launched = subprocess.run([dagster, "job", "launch", "-w", "workspace.yaml", "-j",
                                       "waiter"], env=env, cwd=tmp_path, stdout=out,
                                      stderr=subprocess.STDOUT, timeout=300)
        assert launched.returncode == 0, (tmp_path / "launch.log").read_text()[-2000:]
        run = next(r for r in inst.get_runs() if r.job_name == "waiter")
        wait_until(lambda: any(p.run_id == run.run_id for p in inst.event_log_storage
                               .get_concurrency_info("dbt:proj:dev").pending_steps),
                   "the launched run to queue for the lock", limit=300)
        assert inst.run_launcher.terminate(run.run_id)
        wait_until(lambda: inst.get_run_by_id(run.run_id).is_finished,
                   "the terminated run to end", limit=120)
        assert inst.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED
        info = inst.event_log_storage.get_concurrency_info("dbt:proj:dev")
        assert [s.run_id for s in info.claimed_slots] == [holder]
        assert {p.run_id for p in info.pending_steps} == {holder}
        wait_until(lambda: not processes_with_env("DATABUILD_TEST_MARK", mark),
                   "the run worker and code server to exit", limit=120)
    finally:
        for pid in processes_with_env("DATABUILD_TEST_MARK", mark):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
