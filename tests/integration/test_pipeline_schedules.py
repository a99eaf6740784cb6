"""Pipeline schedules pass their tick: the same schedule evaluated at two tick times asks dbt
for two different days, and dbt builds the day it was given."""

import datetime as dt

import dagster as dg
import duckdb

from resources.dagster_pipelines import pipeline_definitions
from resources.pipelines import load
from tests.support.pipelines import outside_project

STEP = "jaffle_dev__dbt_build"


def _request(schedule, when: dt.datetime) -> dg.RunRequest:
    with dg.build_schedule_context(scheduled_execution_time=when) as ctx:
        data = schedule.evaluate_tick(ctx)
    (request,) = data.run_requests
    return request


def test_one_schedule_at_two_ticks_passes_two_dates_and_dbt_builds_the_ticks_day(
        tmp_path, monkeypatch):
    monkeypatch.setenv("DATABUILD_HOME", str(tmp_path / "home"))
    path = outside_project(tmp_path, schedule="0 6 * * *")
    defs = pipeline_definitions(load(path))
    schedule = defs.get_schedule_def("jaffle_dev_schedule")
    first = _request(schedule, dt.datetime(2024, 1, 2, 6, tzinfo=dt.UTC))
    second = _request(schedule, dt.datetime(2024, 1, 5, 6, tzinfo=dt.UTC))
    assert first.run_config["ops"][STEP]["config"]["vars"] == {"as_of": "2024-01-02"}
    assert second.run_config["ops"][STEP]["config"]["vars"] == {"as_of": "2024-01-05"}
    assert first.tags["databuild/scheduled_date"] == "2024-01-02"
    assert second.tags["databuild/tick"].startswith("2024-01-05T06:00:00")

    job = defs.get_job_def("jaffle_dev")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(run_config=first.run_config, tags=first.tags,
                                        instance=instance, op_selection=[STEP])
        assert result.success
        meta = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"][0]
        assert meta.event_specific_data.metadata["vars"].value == {"as_of": "2024-01-02"}
    con = duckdb.connect(str(tmp_path / "warehouse" / "dev.duckdb"), read_only=True)
    assert str(con.execute("select as_of from main.run_info").fetchone()[0]) == "2024-01-02"
    assert con.execute("select count(*) from main.orders").fetchone() == (2,)
    con.close()
