"""Embedded mode: PyAirbyte runs the real `source-file` connector (PyPI package
airbyte-source-file) on local JSONL files into a DuckDB file and into PostgreSQL.

SLOW THE FIRST TIME: the connector is installed from PyPI into its own virtualenv under
`.databuild/airbyte/connectors/` of the repository (about a minute, ~500 MB), then reused by
every later run on the machine. Only PyPI is needed.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from resources.airbyte import AirbyteConnection, clear, sync
from resources.targets import WarehouseTarget

pytestmark = pytest.mark.integration
LOG = logging.getLogger("databuild.test.airbyte")
INSTALL_ROOT = Path(__file__).resolve().parents[2] / ".databuild" / "airbyte"


def write_jsonl(path: Path, n: int) -> Path:
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"id": i, "name": f"customer {i}", "amount": i * 1.5}) + "\n")
    return path


def file_conn(stream: str = "customers", **extra) -> AirbyteConnection:
    return AirbyteConnection.from_dict("shop_files", {
        "source": "source-file", "pip_url": "airbyte-source-file",
        "config": {"dataset_name": stream, "format": "jsonl", "url": "${SHOP_FILE_URL}",
                   "provider": {"storage": "local"}}, **extra})


@pytest.fixture
def shop_file(tmp_path, monkeypatch) -> Path:
    path = write_jsonl(tmp_path / "customers.jsonl", 25)
    monkeypatch.setenv("SHOP_FILE_URL", str(path))
    return path


@pytest.fixture
def duck(tmp_path) -> WarehouseTarget:
    return WarehouseTarget.from_dict("dev", {"type": "duckdb", "path": str(tmp_path / "dev.duckdb")})


def run(conn, target, **kw):
    return sync(conn, target, timeout=kw.pop("timeout", 600), log=LOG,
                install_root=INSTALL_ROOT, **kw)


def duck_count(target: WarehouseTarget, table: str) -> int:
    with duckdb.connect(target.path) as c:  # read-write: fails if the sync kept the file locked
        return c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_a_real_source_file_sync_lands_every_jsonl_row_in_the_duckdb_file(shop_file, duck):
    out = run(file_conn(), duck)
    assert out.status == "succeeded", out.message
    assert out.records == 25 and out.streams == ("customers",)
    assert out.stream_records == {"customers": 25}
    assert duck_count(duck, "airbyte_shop_files.customers") == 25
    with duckdb.connect(duck.path) as c:
        cols = {r[0] for r in c.execute("DESCRIBE airbyte_shop_files.customers").fetchall()}
    assert {"id", "name", "amount", "_airbyte_extracted_at"} <= cols


def test_a_second_sync_replaces_the_rows_instead_of_duplicating_them(shop_file, duck):
    assert run(file_conn(), duck).ok
    write_jsonl(shop_file, 10)
    out = run(file_conn(), duck)
    assert out.ok and out.records == 10
    assert duck_count(duck, "airbyte_shop_files.customers") == 10


def test_an_embedded_sync_that_outlives_its_timeout_is_stopped_without_touching_the_warehouse(
        shop_file, duck):
    assert run(file_conn(), duck).ok
    write_jsonl(shop_file, 200_000)  # takes ~10 s to read on this machine
    out = run(file_conn(), duck, timeout=3)
    assert out.status == "timed_out", out.message
    assert "timed out after 3 s" in out.message and "nothing was finalized" in out.message
    assert duck_count(duck, "airbyte_shop_files.customers") == 25  # the previous sync's rows


def test_setting_the_cancel_event_stops_an_embedded_sync(shop_file, duck):
    write_jsonl(shop_file, 200_000)
    stop = threading.Event()
    threading.Timer(2.0, stop.set).start()
    out = run(file_conn(), duck, cancel_event=stop)
    assert out.status == "cancelled", out.message


def test_clearing_a_stream_drops_its_table_and_the_next_sync_rebuilds_it(shop_file, duck):
    assert run(file_conn(), duck).ok
    out = clear(file_conn(), duck, streams=["customers"], log=LOG)
    assert out.status == "succeeded" and out.streams == ("customers",)
    with duckdb.connect(duck.path) as c:
        tables = {r[0] for r in c.execute("SELECT table_name FROM information_schema.tables "
                                          "WHERE table_schema = 'airbyte_shop_files'").fetchall()}
    assert "customers" not in tables
    assert run(file_conn(), duck).ok
    assert duck_count(duck, "airbyte_shop_files.customers") == 25


def test_clearing_a_stream_that_was_never_synced_fails_naming_the_synced_ones(shop_file, duck):
    out = clear(file_conn(), duck, streams=["orders"], log=LOG)
    assert out.status == "failed" and "never synced" in out.message
    assert run(file_conn(), duck).ok
    out = clear(file_conn(), duck, streams=["orders"], log=LOG)
    assert out.status == "failed" and "(synced: customers)" in out.message


def test_a_missing_secret_fails_before_anything_is_installed_or_read(duck, monkeypatch):
    monkeypatch.delenv("SHOP_FILE_URL", raising=False)
    out = run(file_conn(), duck)
    assert out.status == "failed"
    assert "SHOP_FILE_URL" in out.message and "not set" in out.message


def test_a_failing_connector_reports_its_own_error_with_secret_values_redacted(
        tmp_path, duck, monkeypatch, caplog):
    caplog.set_level(logging.INFO, logger=LOG.name)
    secret_path = str(tmp_path / "missing-tok3n-9f8e7d6c.jsonl")
    monkeypatch.setenv("SHOP_FILE_URL", secret_path)
    out = run(file_conn(), duck)
    assert out.status == "failed"
    assert "No such file or directory" in out.message and "***" in out.message
    assert "connector log:" in out.message
    ours = [r.getMessage() for r in caplog.records if r.name == LOG.name]
    assert ours and all(secret_path not in m for m in ours)
    assert secret_path not in repr(out)


@pytest.mark.postgres
def test_a_real_source_file_sync_lands_every_jsonl_row_in_postgresql(shop_file, pg_url):
    url = sa.engine.make_url(pg_url)
    target = WarehouseTarget.from_dict("prod", {
        "type": "postgres", "host": url.host or "127.0.0.1", "port": url.port or 5432,
        "user": url.username or "postgres", "database": url.database})
    out = run(file_conn(), target)
    assert out.status == "succeeded", out.message
    assert out.records == 25
    engine = sa.create_engine(target.sqlalchemy_url())
    try:
        with engine.connect() as c:
            assert c.execute(sa.text(
                "SELECT count(*) FROM airbyte_shop_files.customers")).scalar() == 25
        assert clear(file_conn(), target, log=LOG).ok
        with engine.connect() as c:
            assert c.execute(sa.text("SELECT to_regclass('airbyte_shop_files.customers')")
                             ).scalar() is None
    finally:
        engine.dispose()
