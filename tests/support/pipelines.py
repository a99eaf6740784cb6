"""Pipeline files for tests: the real dbt project on a DuckDB file or a PostgreSQL db."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa
import yaml

REPO = Path(__file__).resolve().parents[2]

REVIEWS = [("r1", "p1", "a1", 5, "t", "great show", "2024-01-03 10:00:00"),
           ("r2", "p2", "a2", 3, "t", "fine", "2024-01-03 11:00:00")]
PODCASTS = [("p1", "Laughs", "comedy"), ("p2", "Daily", "news")]


def seed_duckdb(path: Path) -> None:
    con = duckdb.connect(str(path))
    con.execute("create table if not exists validated_reviews (review_id varchar, podcast_id "
                "varchar, author_id varchar, rating integer, title varchar, content varchar, "
                "created_at varchar)")
    con.execute("create table if not exists podcasts (podcast_id varchar, title varchar, "
                "category varchar)")
    con.executemany("insert into validated_reviews values (?, ?, ?, ?, ?, ?, ?)", REVIEWS)
    con.executemany("insert into podcasts values (?, ?, ?)", PODCASTS)
    con.close()


def seed_postgres(url: str, schema: str) -> None:
    eng = sa.create_engine(sa.engine.make_url(url).set(drivername="postgresql+psycopg2"))
    with eng.begin() as c:
        c.execute(sa.text(f'create schema if not exists "{schema}"'))
        c.execute(sa.text(f'create table "{schema}".validated_reviews (review_id text, podcast_id '
                          'text, author_id text, rating integer, title text, content text, '
                          'created_at text)'))
        c.execute(sa.text(f'create table "{schema}".podcasts (podcast_id text, title text, '
                          'category text)'))
        for r in REVIEWS:
            c.execute(sa.text(f'insert into "{schema}".validated_reviews values '
                              '(:a,:b,:c,:d,:e,:f,:g)'), dict(zip("abcdefg", r, strict=True)))
        for p in PODCASTS:
            c.execute(sa.text(f'insert into "{schema}".podcasts values (:a,:b,:c)'),
                      dict(zip("abc", p, strict=True)))
    eng.dispose()


def write_file(folder: Path, pipelines: list[dict], targets: dict, connections=None) -> Path:
    path = folder / "pipelines.yaml"
    path.write_text(yaml.safe_dump({"dbt_project_dir": str(REPO / "dbt_project"),
                                    "targets": targets, "connections": connections or {},
                                    "pipelines": pipelines}, sort_keys=False))
    return path


# --- malformed pipelines files: each has exactly one problem, at a known path --------------

PROJECT_DIR = REPO / "dbt_project"


@dataclass(frozen=True)
class Malformed:
    id: str
    path: str  # where the one problem is, e.g. "pipelines[0].tasks[0].slug"
    says: str  # a phrase of the message
    data: Any = None  # a mapping written as YAML ...
    text: str | None = None  # ... or the raw text

    def write(self, folder: Path) -> Path:
        f = folder / "pipelines.yaml"
        f.write_text(self.text if self.text is not None else
                     yaml.safe_dump(self.data, sort_keys=False))
        return f


def _file(pipeline: dict | None = None, **top) -> dict:
    base = {"dbt_project_dir": str(PROJECT_DIR),
            "targets": {"dev": {"type": "duckdb", "path": "wh.duckdb"}},
            "connections": {},
            "pipelines": [{"name": "nightly", "target": "dev",
                           "tasks": [{"slug": "dbt-run"}], **(pipeline or {})}]}
    base.update(top)
    return base


def _tasks(*tasks) -> dict:
    return _file({"tasks": list(tasks)})


_CONN = {"source": "source-file", "config": {"url": "/tmp/x.jsonl", "format": "jsonl",
                                             "dataset_name": "x", "provider": {"storage": "local"}}}

MALFORMED = [
    Malformed("cron-minute-99", "pipelines[0].schedule.cron", "not a valid cron",
              _file({"schedule": "99 * * * *"})),
    Malformed("cron-hour-25", "pipelines[0].schedule.cron", "not a valid cron",
              _file({"schedule": {"cron": "0 25 * * *"}})),
    Malformed("cron-words", "pipelines[0].schedule.cron", "not a valid cron",
              _file({"schedule": "every day at six"})),
    Malformed("cron-four-fields", "pipelines[0].schedule.cron", "not a valid cron",
              _file({"schedule": "0 6 * *"})),
    Malformed("timezone-unknown", "pipelines[0].schedule.timezone", "unknown time zone",
              _file({"schedule": {"cron": "0 6 * * *", "timezone": "Mars/Olympus"}})),
    Malformed("schedule-key-unknown", "pipelines[0].schedule.tz", "unknown key 'tz'",
              _file({"schedule": {"cron": "0 6 * * *", "tz": "UTC"}})),
    Malformed("schedule-integer", "pipelines[0].schedule", "must be a cron string",
              _file({"schedule": 6})),
    Malformed("name-integer", "pipelines[0].name", "must be a string, got int",
              _file({"name": 2024})),
    Malformed("name-empty", "pipelines[0].name", "at least 1 character",
              _file({"name": ""})),
    Malformed("name-missing", "pipelines[0].name", "is required",
              {**_file(), "pipelines": [{"target": "dev", "tasks": [{"slug": "dbt-run"}]}]}),
    Malformed("names-collide-after-sanitizing", "pipelines[1].name", "same Dagster name",
              {**_file(), "pipelines": [
                  {"name": "a b", "target": "dev", "tasks": [{"slug": "dbt-run"}]},
                  {"name": "a-b", "target": "dev", "tasks": [{"slug": "dbt-run"}]}]}),
    Malformed("pipeline-key-unknown", "pipelines[0].retries", "unknown key 'retries'",
              _file({"retries": 3})),
    Malformed("top-key-unknown", "pipeline", "unknown key 'pipeline'",
              {**_file(), "pipeline": []}),
    Malformed("target-unknown", "pipelines[0].target", "unknown target 'staging'",
              _file({"target": "staging"})),
    Malformed("target-missing", "pipelines[0].target", "is required",
              {**_file(), "pipelines": [{"name": "n", "tasks": [{"slug": "dbt-run"}]}]}),
    Malformed("policy-unknown", "pipelines[0].dbt_test_failures", "must be 'warn' or 'fail'",
              _file({"dbt_test_failures": "ignore"})),
    Malformed("continue-not-bool", "pipelines[0].continue_on_sync_failure",
              "must be true or false", _file({"continue_on_sync_failure": "yes"})),
    Malformed("lock-unknown", "pipelines[0].lock", "must be 'task' or 'pipeline'",
              _file({"lock": "global"})),
    Malformed("tasks-empty", "pipelines[0].tasks", "must not be empty", _tasks()),
    Malformed("task-not-mapping", "pipelines[0].tasks[0]", "must be a mapping",
              _tasks("dbt-run")),
    Malformed("task-without-slug", "pipelines[0].tasks[0].slug", "needs a 'slug'",
              _tasks({"select": "x"})),
    Malformed("slug-unknown", "pipelines[0].tasks[0].slug", "unknown task slug 'dbt-frob'",
              _tasks({"slug": "dbt-frob"})),
    Malformed("param-unknown", "pipelines[0].tasks[0].selct", "unknown key 'selct'",
              _tasks({"slug": "dbt-run", "selct": "orders"})),
    Malformed("param-wrong-type", "pipelines[0].tasks[0].select", "must be a string",
              _tasks({"slug": "dbt-run", "select": ["a", "b"]})),
    Malformed("flags-not-list", "pipelines[0].tasks[0].flags", "must be a list",
              _tasks({"slug": "dbt-run", "flags": "--full-refresh"})),
    Malformed("vars-not-mapping", "pipelines[0].tasks[0].vars", "must be a mapping",
              _tasks({"slug": "dbt-run", "vars": "date=2024-01-01"})),
    Malformed("tick-variable-unknown", "pipelines[0].tasks[0].vars",
              "unknown tick variable", _tasks({"slug": "dbt-run", "vars": {
                  "date": "{{ ds }}"}})),
    Malformed("shell-args-missing", "pipelines[0].tasks[0].args", "is required",
              _tasks({"slug": "shell"})),
    Malformed("shell-args-string", "pipelines[0].tasks[0].args", "must be a list",
              _tasks({"slug": "shell", "args": "ls -l"})),
    Malformed("timeout-negative", "pipelines[0].tasks[0].timeout", "greater than 0",
              _tasks({"slug": "shell", "args": ["true"], "timeout": -5})),
    Malformed("connection-unknown", "pipelines[0].tasks[0].connection",
              "unknown connection 'orders'", _tasks({"slug": "airbyte-sync",
                                                    "connection": "orders"})),
    Malformed("order-run-before-seed", "pipelines[0].tasks[1].slug",
              "dbt-seed is declared after dbt-run", _tasks({"slug": "dbt-run"},
                                                           {"slug": "dbt-seed"})),
    Malformed("order-docs-before-test", "pipelines[0].tasks[1].slug",
              "dbt-test is declared after dbt-docs-generate",
              _tasks({"slug": "dbt-docs-generate"}, {"slug": "dbt-test"})),
    Malformed("project-dir-without-dbt-project", "dbt_project_dir", "holds no dbt_project.yml",
              _file(dbt_project_dir="/tmp")),
    Malformed("project-dir-missing-with-dbt-tasks", "dbt_project_dir", "is required",
              {k: v for k, v in _file().items() if k != "dbt_project_dir"}),
    Malformed("target-type-unknown", "targets.dev.type", "must be 'duckdb' or 'postgres'",
              _file(targets={"dev": {"type": "sqlite", "path": "x.db"}})),
    Malformed("target-password-literal", "targets.dev.password", "never put a password",
              _file(targets={"dev": {"type": "postgres", "database": "d",
                                     "password": "hunter2"}})),
    Malformed("target-port-string", "targets.dev.port", "must be an integer",
              _file(targets={"dev": {"type": "postgres", "database": "d", "port": "5432"}})),
    Malformed("target-duckdb-without-path", "targets.dev.path", "is required",
              _file(targets={"dev": {"type": "duckdb"}})),
    Malformed("target-postgres-without-database", "targets.dev.database", "is required",
              _file(targets={"dev": {"type": "postgres"}})),
    Malformed("target-not-mapping", "targets.dev", "must be a mapping",
              _file(targets={"dev": "duckdb"})),
    Malformed("pipelines-not-list", "pipelines", "must be a list",
              {**_file(), "pipelines": {"nightly": {"target": "dev"}}}),
    Malformed("connection-not-mapping", "connections.orders", "must be a mapping",
              _file(connections={"orders": "source-file"})),
    Malformed("top-level-list", "(top level)", "must be a mapping", text="- a\n- b\n"),
    Malformed("yaml-broken", "not valid YAML at line 2", "expected", text="pipelines: [\n"),
    Malformed("yaml-duplicate-key", "not valid YAML at line 3", "appears twice",
              text="pipelines:\n  - name: a\n    name: b\n"),
]


# --- an outside dbt project: tests/support/jaffle_like copied out of the repository ---------

JAFFLE = Path(__file__).resolve().parent / "jaffle_like"


def outside_project(folder: Path, pg_db: str | None = None, schedule: str | None = None) -> Path:
    """Copy the fixture project to ``folder/analytics`` and write ``folder/pipelines.yaml``
    beside it (a relative dbt_project_dir, a DuckDB file in a folder that does not exist yet,
    and a PostgreSQL prod target when ``pg_db`` is given). Returns the pipelines file."""
    import shutil

    shutil.copytree(JAFFLE, folder / "analytics")
    targets = {"dev": {"type": "duckdb", "path": "warehouse/dev.duckdb", "schema": "main"}}
    if pg_db:
        targets["prod"] = {"type": "postgres", "host": "127.0.0.1", "port": 5432,
                           "user": "postgres", "database": pg_db, "schema": "analytics"}
    tasks = [{"slug": "dbt-build", "vars": {"as_of": "{{ scheduled_date }}"}},
             {"slug": "dbt-docs-generate"}]
    pipelines = [{"name": f"jaffle_{t}", "target": t, "tasks": tasks,
                  **({"schedule": {"cron": schedule, "timezone": "UTC"}} if schedule else {})}
                 for t in targets]
    path = folder / "pipelines.yaml"
    path.write_text(yaml.safe_dump({"dbt_project_dir": "analytics", "targets": targets,
                                    "pipelines": pipelines}, sort_keys=False))
    return path
