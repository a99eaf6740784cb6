"""Secrets handed to jobs (secret_env, secret-looking names, passwords in URLs, PEM keys,
bearer tokens, AUTH headers, DSNs) reach the job but are never stored: not in the catalog,
manifests, events, CLI output or Dagster storage. And a catalog URL with a password reaches
Dagster runs without the password in anything Dagster stores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import sqlalchemy as sa

from databuild_assets.core import Catalog

REPO = Path(__file__).resolve().parents[2]
MARKERS = ["SEKRIT-ENV-1f3a", "SEKRIT-DBPASS-2b4c", "SEKRIT-URLPW-3c5d", "SEKRIT-PEM-4d6e",
           "SEKRIT-BEARER-5e7f", "SEKRIT-AUTH-6f80", "SEKRIT-DSN-7a91", "SEKRIT-ARGPW-8b02"]
CONFIG = {
    "args": ["--target", "postgresql://loader:SEKRIT-URLPW-3c5d@db.internal:5432/wh",
             "--header", "Authorization: Bearer SEKRIT-BEARER-5e7f",
             "--password", "SEKRIT-ARGPW-8b02", "--mode", "fast"],
    "env": {"PLAIN_SETTING": "SEKRIT-ENV-1f3a", "DB_PASS": "SEKRIT-DBPASS-2b4c",
            "CERT_BUNDLE": "-----BEGIN RSA PRIVATE KEY-----\nSEKRIT-PEM-4d6e\n"
                           "-----END RSA PRIVATE KEY-----",
            "HTTP_HEADERS": "AUTH: SEKRIT-AUTH-6f80",
            "WAREHOUSE": "host=db user=u password=SEKRIT-DSN-7a91 dbname=x", "MODE": "fast"},
    "secret_env": ["PLAIN_SETTING"],
}


def _cli(tmp_path, catalog_url, *args, graph="tests.support.probe_graph:graph"):
    env = {**os.environ, "PYTHONPATH": str(REPO), "DATABUILD_HOME": str(tmp_path / "home"),
           "DAGSTER_HOME": str(tmp_path / "dagster"), "DATABUILD_DATA_ROOT": str(tmp_path / "data"),
           "DATABUILD_GRAPH": graph, "DBTEST_ROOT": str(tmp_path),
           "PROBE_CONFIG": json.dumps(CONFIG)}
    p = subprocess.run([sys.executable, "-m", "databuild_assets.cli", "--catalog", catalog_url,
                        *args], env=env, capture_output=True, text=True, timeout=600)
    return p


def _catalog_dump(url: str) -> str:
    eng = sa.create_engine(sa.engine.make_url(url).set(
        drivername="postgresql+psycopg2" if url.startswith("postgresql") else "sqlite"))
    out = []
    with eng.connect() as c:
        for table in sa.inspect(eng).get_table_names():
            out += [repr(tuple(r)) for r in c.execute(sa.text(f'SELECT * FROM "{table}"'))]
    eng.dispose()
    return "\n".join(out)


def _files_text(root: Path) -> str:
    """Every file's bytes, plus every value of every SQLite table with compressed blobs
    (Dagster's run and job snapshots) decompressed."""
    import sqlite3
    import zlib

    out = [p.read_bytes().decode("latin-1") for p in root.rglob("*") if p.is_file()]
    for db in root.rglob("*.db"):
        con = sqlite3.connect(db)
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type='table'"):
            for row in con.execute(f'SELECT * FROM "{table}"'):
                for v in row:
                    if isinstance(v, bytes):
                        try:
                            v = zlib.decompress(v)
                        except zlib.error:
                            pass
                        out.append(v.decode("latin-1"))
                    else:
                        out.append(str(v))
        con.close()
    return "\n".join(out)


def _leaks(text: str) -> list[str]:
    return [m for m in MARKERS if m in text]


def test_secret_markers_reach_the_job_but_never_the_catalog_manifests_events_logs_or_dagster(
        tmp_path, catalog_url):
    built = _cli(tmp_path, catalog_url, "build", "probe/d=1")
    assert built.returncode == 0, (built.stdout, built.stderr)
    via_dagster = _cli(tmp_path, catalog_url, "build", "--dagster", "probe/d=2")
    assert via_dagster.returncode == 0, (via_dagster.stdout, via_dagster.stderr)
    g_catalog = Catalog.open(catalog_url)
    manifests = g_catalog.manifest_history(limit=10)
    assert {m.ref for m in manifests} == {"probe/d=1", "probe/d=2"}
    # the program got every real value at run time
    import pandas as pd
    for m in manifests:
        row = pd.read_parquet(tmp_path / "data" / m.path).iloc[0]
        assert all(json.loads(row.arrived).values()) and bool(row.stdin_env_ok)
        assert "SEKRIT-URLPW-3c5d" in row.argv  # the job itself saw its argument
        assert m.config["env"]["MODE"] == "fast" and m.config["secret_env"] == ["PLAIN_SETTING"]
    texts = {
        "catalog tables": _catalog_dump(catalog_url),
        "build output": built.stdout + built.stderr,
        "build --dagster output": via_dagster.stdout + via_dagster.stderr,
        "manifests": _cli(tmp_path, catalog_url, "manifests", "--json").stdout,
        "events": _cli(tmp_path, catalog_url, "events", "--json", "--limit", "500").stdout,
        "plan": _cli(tmp_path, catalog_url, "plan", "--json", "--force", "probe/d=1").stdout,
        "lookup": _cli(tmp_path, catalog_url, "lookup", "--json", "probe/d=1").stdout,
        "script": _cli(tmp_path, catalog_url, "plan", "--script", "-", "probe/d=3").stdout,
        "dagster storage": _files_text(tmp_path / "dagster"),
    }
    assert "flowchart" not in texts["script"] and "exec" in texts["script"]
    assert "SEKRIT" not in texts["lookup"] and "PLAIN_SETTING" in texts["lookup"]
    leaks = {where: _leaks(text) for where, text in texts.items() if _leaks(text)}
    assert not leaks, leaks
    # the Dagster event log did record the job's (redacted) log lines
    assert "env MODE=fast" in texts["dagster storage"]


def test_a_catalog_url_with_a_password_reaches_dagster_runs_without_the_password(
        tmp_path, pg_url, monkeypatch):
    url = sa.engine.make_url(pg_url).set(password="CATPW-SEKRIT-9c13")
    full = url.render_as_string(hide_password=False)
    p = _cli(tmp_path, full, "build", "--dagster", "src/date=2024-01-05",
             graph="tests.support.graphs:graph_from_env")
    assert p.returncode == 0, (p.stdout, p.stderr)
    instance = dg.DagsterInstance.from_config(str(tmp_path / "dagster"))
    runs = instance.get_runs()
    assert runs and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    manifests = Catalog.open(pg_url).manifest_history(ref="src/date=2024-01-05")
    assert manifests and manifests[0].run_id in {r.run_id for r in runs}  # that catalog
    assert not (tmp_path / "home" / "catalog.db").exists()  # not the default one
    assert all(r.tags.get("databuild/catalog", "").endswith(url.database) for r in runs)
    stored = _files_text(tmp_path / "dagster") + p.stdout + p.stderr
    assert "CATPW-SEKRIT-9c13" not in stored
    instance.dispose()
    # a run process puts the password back from the environment reference
    from databuild_assets import settings
    from databuild_assets.dagster.io_manager import DatabuildIOManager

    public = runs[0].tags["databuild/catalog"]
    monkeypatch.setenv(settings.CATALOG_PASSWORD_ENV, "CATPW-SEKRIT-9c13")
    assert DatabuildIOManager(catalog_url=public).resolved_catalog_url == full
