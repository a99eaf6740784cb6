"""pipelines.yaml validation, ordering and tick variables are pure: no Dagster run, no dbt."""

import datetime as dt
from pathlib import Path

import pytest
import yaml

from databuild_assets.core import ConfigError
from resources.pipelines import PipelinesConfigError, load, order_tasks, parse
from resources.tasks import TASKS, validate_params
from resources.tick import render, tick_values
from tests.support.pipelines import MALFORMED, PROJECT_DIR

TARGETS = {"dev": {"type": "duckdb", "path": "wh.duckdb"}}


def _parse(pipelines, targets=TARGETS, connections=None):
    return parse({"dbt_project_dir": str(PROJECT_DIR), "targets": targets,
                  "connections": connections or {}, "pipelines": pipelines},
                 Path("/tmp/pipelines.yaml"))


def test_the_master_list_has_every_task_with_a_parameter_schema():
    assert set(TASKS) == {"airbyte-sync", "airbyte-clear", "git-pull", "git-clone", "dbt-clean",
                          "dbt-deps", "dbt-seed", "dbt-run", "dbt-test", "dbt-build",
                          "dbt-docs-generate", "shell"}
    assert validate_params("shell", {"args": "ls"}, "t") == [
        "t: parameter 'args' of 'shell' must be a list, got str"]


def test_setup_tasks_run_first_and_a_warning_says_they_moved():
    pf, errors = _parse([{"name": "p", "target": "dev", "tasks": [
        {"slug": "dbt-run", "select": "stg_reviews"}, {"slug": "dbt-deps"},
        {"slug": "shell", "args": ["true"]},
        {"slug": "git-pull", "repo": "https://example.invalid/r.git"}, {"slug": "dbt-clean"},
        {"slug": "dbt-test"}]}])
    assert errors == []
    assert [t.slug for t in pf.pipelines["p"].tasks] == [
        "git-pull", "dbt-clean", "dbt-deps", "dbt-run", "shell", "dbt-test"]
    assert any("tasks[1]: dbt-deps runs before tasks declared above it" in w
               for w in pf.warnings)


def test_dbt_work_tasks_declared_out_of_order_are_an_error_naming_both():
    _pf, errors = _parse([{"name": "p", "target": "dev", "tasks": [
        {"slug": "dbt-run"}, {"slug": "dbt-seed"}, {"slug": "dbt-docs-generate"},
        {"slug": "dbt-test"}]}])
    assert errors == [
        "pipelines[0].tasks[1].slug: dbt-seed is declared after dbt-run (tasks[0]); dbt tasks "
        "run in the order clean -> deps -> seed -> run/build -> test -> docs-generate: move it up",
        "pipelines[0].tasks[3].slug: dbt-test is declared after dbt-docs-generate (tasks[2]); "
        "dbt tasks run in the order clean -> deps -> seed -> run/build -> test -> docs-generate:"
        " move it up"]


def test_order_is_stable_within_a_phase():
    from resources.pipelines import Task

    ts = [Task("dbt-run", {}, "a"), Task("airbyte-sync", {"connection": "x"}, "s1"),
          Task("dbt-test", {}, "b"), Task("airbyte-sync", {"connection": "y"}, "s2")]
    assert [t.name for t in order_tasks(ts)] == ["s1", "s2", "a", "b"]


@pytest.mark.parametrize("case", MALFORMED, ids=[c.id for c in MALFORMED])
def test_a_malformed_pipelines_file_gives_one_clear_error_with_its_path(tmp_path, case):
    path = case.write(tmp_path)
    with pytest.raises(PipelinesConfigError) as err:
        load(path)
    message = str(err.value)
    assert len(err.value.problems) == 1, err.value.problems
    assert message == f"{path}: {err.value.problems[0]}"
    assert err.value.problems[0].startswith(case.path)
    assert case.says in message
    assert "Traceback" not in message and "pydantic" not in message.lower()


def test_every_problem_of_a_file_is_listed_in_one_pass_one_per_line_with_its_path(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"dbt_project_dir": str(PROJECT_DIR), "targets": TARGETS,
                                    "pipelines": [{"name": 7, "target": "dev", "tasks": [
                                        {"slug": "dbt-run", "selct": "x"}]},
                                        {"name": "b", "target": "prod", "retries": 3,
                                         "tasks": [{"slug": "dbt-run"}]}]}))
    with pytest.raises(ConfigError) as err:
        load(path)
    lines = str(err.value).splitlines()
    assert lines[0] == f"{path} has 4 problem(s):"
    # a pipeline with a wrong shape still gets its other rules checked: all in one pass
    assert [ln.split(":")[0].strip("- ") for ln in lines[1:]] == [
        "pipelines[0].name", "pipelines[0].tasks[0].selct", "pipelines[1].retries",
        "pipelines[1].target"]


def test_a_password_in_the_file_is_refused_without_echoing_it():
    _pf, errors = _parse([], targets={"prod": {"type": "postgres", "database": "d",
                                               "password": "hunter2"}})
    assert errors == ["targets.prod.password: never put a password in the file; set "
                      "'password_env: SOME_ENV_VAR' and export that variable (or put it in "
                      "DATABUILD_SECRETS_FILE)"]


def test_the_example_pipelines_file_is_valid_and_passes_its_tick():
    pf = load(Path(__file__).resolve().parents[2] / "pipelines.yaml")
    build = [t for t in pf.pipelines["podcast_dev"].tasks if t.slug == "dbt-build"][0]
    assert "{{" in build.params["vars"]["date"]


def test_tick_variables_follow_the_cron_and_the_time_zone():
    tick = dt.datetime(2024, 3, 10, 6, 0, tzinfo=dt.UTC)
    v = tick_values(tick, "0 6 * * *", "UTC")
    assert v["scheduled_date"] == "2024-03-10"
    assert v["data_interval_start_date"] == "2024-03-09"
    assert v["data_interval_end"] == "2024-03-10T06:00:00+00:00"
    hourly = tick_values(tick, "0 * * * *", "UTC")
    assert hourly["data_interval_start"] == "2024-03-10T05:00:00+00:00"
    tokyo = tick_values(dt.datetime(2024, 3, 10, 20, 0, tzinfo=dt.UTC), None, "Asia/Tokyo")
    assert tokyo["scheduled_date"] == "2024-03-11"
    assert render({"d": "{{ scheduled_date }}", "n": [1, "x{{scheduled_date}}"]}, v) == {
        "d": "2024-03-10", "n": [1, "x2024-03-10"]}


def test_the_json_schema_describes_every_task_and_refuses_unknown_keys():
    from resources.pipelines_model import json_schema

    schema = json_schema()
    text = yaml.safe_dump(schema)
    for slug in TASKS:
        assert slug in text
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {"dbt_project_dir", "targets", "connections",
                                         "pipelines"}
    assert "dbt_test_failures" in text and "lock" in text


def test_a_dbt_failure_message_keeps_dbts_error_lines_without_the_chatter():
    from resources.dbt import error_lines

    output = ("01:02:20  Concurrency: 2 threads (target='prod')\n01:02:20\n"
              "01:02:21  Finished running  in 0 hours 0 minutes and 0.32 seconds (0.32s).\n"
              "01:02:21  Encountered an error:\nDatabase Error\n"
              "  connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n")
    assert error_lines(output) == [
        "Encountered an error:", "Database Error",
        'connection to server at "127.0.0.1", port 1 failed: Connection refused']
    assert error_lines("01:00:00  Running with dbt=1.11\n01:00:01  Compilation Error in model x\n"
                       "  'foo' is undefined\n") == [
        "Running with dbt=1.11", "Compilation Error in model x", "'foo' is undefined"]
