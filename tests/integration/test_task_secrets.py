"""Secrets through the task layer: a recognizable marker for every kind of secret, every task
path run for real (git, shell, Airbyte server and embedded, dbt task and dbt asset on the prod
target), then every output searched: captured stdout/stderr, log records, Dagster's storage
(SQLite files, compressed snapshots included), connector logs and every file left under the
test's home. Zero hits.

The embedded sync installs the `source-file` connector on first use (see
test_airbyte_embedded.py); it is shared with that test under `.databuild/airbyte`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import uuid
import zlib
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa

from databuild_assets.dagster.sync import ensure_instance
from databuild_assets.pipeline_runs import run_pipeline
from tests.support.fake_airbyte import FakeAirbyte, Fault
from tests.support.git_server import make_bare_repo, serve
from tests.support.pipelines import REPO, seed_postgres, write_file

pytestmark = pytest.mark.integration
SHARED_AIRBYTE = REPO / ".databuild" / "airbyte"


def _mark(kind: str) -> str:
    return f"MRK{kind}{uuid.uuid4().hex[:12]}"


def _texts_of_sqlite(path: Path) -> list[bytes]:
    """Every value of every table, compressed blobs (Dagster snapshots) decompressed."""
    out = []
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        for t in tables:
            for row in con.execute(f'select * from "{t}"'):
                for v in row:
                    if isinstance(v, bytes):
                        out.append(v)
                        try:
                            out.append(zlib.decompress(v))
                        except zlib.error:
                            pass
                    elif v is not None:
                        out.append(str(v).encode())
    finally:
        con.close()
    return out


def _hits(markers: dict[str, str], blobs: dict[str, bytes]) -> list[str]:
    return [f"{kind} in {where}" for kind, m in markers.items()
            for where, blob in blobs.items() if m.encode() in blob]


def test_no_secret_marker_reaches_any_output_of_the_task_layer(
        tmp_path, pg_url, monkeypatch, capfd, caplog):
    caplog.set_level(logging.DEBUG)
    home = tmp_path / "home"
    m = {k: _mark(k) for k in ("gitquery", "gituser", "gittoken", "whpass", "abtoken",
                               "connector", "apiurl")}
    secrets_dir = tmp_path / "outside"  # the secrets file itself is not an output
    secrets_dir.mkdir()
    secrets_file = secrets_dir / "secrets.env"
    missing = tmp_path / "landing" / f"{m['connector']}.jsonl"
    secrets_file.write_text(f"GIT_TOKEN={m['gittoken']}\nWH_PW={m['whpass']}\n"
                            f"SHOP_URL={missing}\n")
    os.chmod(secrets_file, 0o644)  # group/world-readable: databuild must say so
    monkeypatch.setenv("DATABUILD_SECRETS_FILE", str(secrets_file))
    monkeypatch.setenv("API_URL", f"https://api.example.com/v1/export?token={m['apiurl']}&x=1")
    monkeypatch.setenv("DATABUILD_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.setenv("DATABUILD_AIRBYTE_HOME", str(SHARED_AIRBYTE))

    seed_postgres(pg_url, "analytics")
    db = sa.engine.make_url(pg_url).database
    bare = make_bare_repo(tmp_path / "git")
    server, url = serve(bare.parent, m["gittoken"])
    with FakeAirbyte(client_secret=m["abtoken"]) as fake:
        monkeypatch.setenv("AB_ID", fake.client_id)
        monkeypatch.setenv("AB_SECRET", fake.client_secret)
        api = {"rest_api_base_url": fake.rest_url, "configuration_api_base_url": fake.config_url,
               "workspace_id": fake.workspace_id, "client_id_env": "AB_ID",
               "client_secret_env": "AB_SECRET", "poll_interval": 0.05,
               "request_retry_delay": 0.05}
        conns = {
            "api_ok": {**api, "connection_id": fake.add_connection("c-ok")},
            "api_echo": {**api, "connection_id": fake.add_connection("c-echo", Fault("echo"))},
            "files": {"source": "source-file", "pip_url": "airbyte-source-file",
                      "config": {"dataset_name": "reviews", "format": "jsonl",
                                 "url": "${SHOP_URL}", "provider": {"storage": "local"}}},
        }
        git = {"dest": str(home / "checkouts" / "a"), "token_env": "GIT_TOKEN"}
        pipelines = [
            {"name": "git_ok", "target": "dev", "tasks": [
                {"slug": "git-clone", "repo": f"{url}/analytics.git", **git}]},
            {"name": "git_query", "target": "dev", "tasks": [
                {"slug": "git-clone", "repo": f"{url}/analytics.git?token={m['gitquery']}",
                 "dest": str(home / "checkouts" / "b")}]},
            {"name": "git_user", "target": "dev", "tasks": [
                {"slug": "git-clone", "repo": f"http://x:{m['gituser']}@127.0.0.1/a.git",
                 "dest": str(home / "checkouts" / "c")}]},
            {"name": "shell", "target": "dev", "tasks": [
                {"slug": "shell", "args": [sys.executable, "-c", "import os; "
                                           "print('fetching', os.environ['API_URL'])"]}]},
            {"name": "syncs", "target": "dev", "continue_on_sync_failure": True, "tasks": [
                {"slug": "airbyte-sync", "connection": "api_ok"},
                {"slug": "airbyte-sync", "connection": "api_echo"},
                {"slug": "airbyte-sync", "connection": "files"}]},
            {"name": "dbt_prod", "target": "prod", "tasks": [
                {"slug": "dbt-run", "select": "stg_reviews", "vars": {"date": "2024-01-03"}}]},
        ]
        targets = {"dev": {"type": "duckdb", "path": str(home / "wh" / "dev.duckdb")},
                   "prod": {"type": "postgres", "host": "127.0.0.1", "port": 5432,
                            "user": "postgres", "database": db, "schema": "analytics",
                            "password_env": "WH_PW"}}
        (tmp_path / "project").mkdir()
        f = write_file(tmp_path / "project", pipelines, targets, conns)
        inst = ensure_instance(home / "dagster")
        outcomes = {}
        try:
            for p in pipelines:
                with run_pipeline(str(f), p["name"], inst) as result:
                    outcomes[p["name"]] = result.success
        finally:
            server.shutdown()
        # the dbt models as assets, pipelines-only location, on DATABUILD_TARGET=prod
        monkeypatch.setenv("DATABUILD_GRAPH", "none")
        monkeypatch.setenv("DATABUILD_PIPELINES_FILE", str(f))
        monkeypatch.setenv("DATABUILD_TARGET", "prod")
        from databuild_assets.definitions import defs

        d = defs()
        assert not any(j.name == "request_build" for j in d.resolve_all_job_defs())
        key = dg.AssetKey(["warehouse", "stg_reviews"])
        asset_run = dg.materialize([d.resolve_assets_def(key)], instance=inst, selection=[key],
                                   run_config={"ops": {"dbt_models": {"config": {
                                       "date": "2024-01-03"}}}}, raise_on_error=False)
        tokens = list(fake.tokens)

    assert outcomes == {"git_ok": True, "git_query": False, "git_user": False, "shell": True,
                        "syncs": False, "dbt_prod": True}, outcomes
    assert asset_run.success
    eng = sa.create_engine(sa.engine.make_url(pg_url).set(drivername="postgresql+psycopg2"))
    with eng.connect() as c:  # the asset ran on prod (PostgreSQL), not on the dev DuckDB
        assert c.execute(sa.text("select count(*) from analytics.stg_reviews")).scalar() == 2
    eng.dispose()
    assert "readable by group or others" in caplog.text and str(secrets_file) in caplog.text
    out, err = capfd.readouterr()
    assert "fetching https://api.example.com/v1/export?token=***" in out + err + caplog.text
    for i, t in enumerate(tokens):
        m[f"oauth{i}"] = t
    blobs = {"stdout": out.encode(), "stderr": err.encode(), "log records": caplog.text.encode()}
    from airbyte import logs as ab_logs

    # everything under the home (Dagster storage, dbt artifacts, checkouts, warehouse) and the
    # connector logs; not the inputs (pipelines.yaml, the secrets file) that hold them
    roots = [home] + ([Path(ab_logs.AIRBYTE_LOGGING_ROOT)]
                                            if ab_logs.AIRBYTE_LOGGING_ROOT else [])
    files = [p for r in roots for p in r.rglob("*") if p.is_file() and ".venv" not in p.parts]
    assert any(p.suffix == ".log" and "source-file" in p.name for p in files), "connector log"
    for p in files:
        if p.suffix in (".db", ".sqlite") or p.name.endswith(".db"):
            blobs[str(p)] = b"\n".join(_texts_of_sqlite(p))
        else:
            blobs[str(p)] = p.read_bytes()
    for run in inst.get_runs():  # whatever the storage: every event of every run
        blobs[f"events of {run.job_name}"] = "\n".join(
            repr(e) for e in inst.all_logs(run.run_id)).encode()
    assert _hits(m, blobs) == []


@pytest.mark.parametrize("field, value", [
    ("repo", "--upload-pack=touch {proof}"),
    ("repo", "--config=core.sshCommand=touch {proof}"),
    ("dest", "-c core.fsmonitor=touch {proof}"),
    ("branch", "--upload-pack=touch {proof}")])
def test_git_values_that_would_be_options_are_refused_and_run_nothing(tmp_path, field, value):
    from databuild_assets.core.errors import ConfigError
    from resources.git import sync_repo

    proof = tmp_path / "ran"
    params = {"repo": "ssh://127.0.0.1:1/nothing.git", "dest": str(tmp_path / "co"),
              field: value.format(proof=proof)}
    with pytest.raises(ConfigError, match=f"{field} .* starts with '-'"):
        sync_repo("git-clone", params, tmp_path / "co")
    assert not proof.exists() and not (tmp_path / "co").exists()
