"""pipelines.yaml validation and ordering are pure: no Dagster, no dbt."""

from pathlib import Path

import pytest

from databuild_assets.core import ConfigError
from resources.pipelines import order_tasks, parse
from resources.tasks import TASKS, validate_params

TARGETS = {"dev": {"type": "duckdb", "path": "wh.duckdb"}}


def _parse(pipelines, targets=TARGETS, connections=None):
    return parse({"targets": targets, "connections": connections or {},
                  "pipelines": pipelines}, Path("/tmp/pipelines.yaml"))


def test_the_master_list_has_every_task_with_a_parameter_schema():
    assert set(TASKS) == {"airbyte-sync", "airbyte-clear", "git-pull", "git-clone", "dbt-clean",
                          "dbt-deps", "dbt-seed", "dbt-run", "dbt-test", "dbt-build",
                          "dbt-docs-generate", "shell"}
    assert validate_params("shell", {"args": "ls"}, "t") == [
        "t: parameter 'args' of 'shell' must be a list, got str"]


def test_tasks_declared_out_of_order_run_airbyte_then_git_then_clean_deps_then_user_dbt():
    pf, errors = _parse([{"name": "p", "target": "dev", "tasks": [
        {"slug": "dbt-test"}, {"slug": "dbt-deps"}, {"slug": "shell", "args": ["true"]},
        {"slug": "git-pull", "repo": "https://example.invalid/r.git"}, {"slug": "dbt-clean"},
        {"slug": "dbt-run", "select": "stg_reviews"}]}])
    assert errors == []
    assert [t.slug for t in pf.pipelines["p"].tasks] == [
        "git-pull", "dbt-clean", "dbt-deps", "dbt-test", "shell", "dbt-run"]


def test_each_problem_gets_its_own_clear_error():
    _pf, errors = _parse([
        {"name": "p", "target": "nope", "schedule": {"cron": "every day"}, "tasks": [
            {"slug": "dbt-frobnicate"}, {"slug": "airbyte-sync", "connection": "ghost"},
            {"slug": "dbt-run", "selct": "x"}]},
        {"name": "p", "target": "dev", "tasks": [{"slug": "dbt-run"}],
         "dbt_test_failures": "maybe"}])
    text = "\n".join(errors)
    assert "unknown target 'nope'" in text
    assert "bad cron 'every day'" in text
    assert "unknown task slug 'dbt-frobnicate'" in text
    assert "unknown connection 'ghost'" in text
    assert "has no parameter 'selct'" in text
    assert "duplicate pipeline name 'p'" in text
    assert "dbt_test_failures must be 'warn' or 'fail'" in text
    assert len(errors) == 7


def test_a_password_in_the_file_is_refused_and_secrets_are_named_by_variable():
    _pf, errors = _parse([], targets={"prod": {"type": "postgres", "database": "d",
                                               "password": "hunter2"}})
    assert "never put a password in the file" in errors[0]
    assert "hunter2" not in errors[0]


def test_order_is_stable_within_a_phase():
    from resources.pipelines import Task

    ts = [Task("dbt-run", {}, "a"), Task("airbyte-sync", {"connection": "x"}, "s1"),
          Task("dbt-test", {}, "b"), Task("airbyte-sync", {"connection": "y"}, "s2")]
    assert [t.name for t in order_tasks(ts)] == ["s1", "s2", "a", "b"]


def test_loading_a_missing_or_broken_file_says_which_and_what_to_do(tmp_path):
    from resources.pipelines import load

    with pytest.raises(ConfigError, match="not found; pass --file"):
        load(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipelines: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load(bad)
