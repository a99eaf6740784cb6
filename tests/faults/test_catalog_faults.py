"""The catalog under faults: a killed connection mid-transaction is retried; a damaged,
locked or full SQLite catalog is a CatalogError saying what to do; a rejected request
writes nothing."""

import sqlite3
import subprocess
import sys

import pytest
import sqlalchemy as sa

from databuild_assets.core import (
    Catalog,
    CatalogError,
    PartitionManifest,
    RefError,
    UnknownDatasetError,
    catalog_engine,
)
from tests.faults.conftest import REPO, env_for
from tests.faults.graph import make_graph

D = "2024-02-01"
MID = f"mid/d={D}"


def test_a_build_completes_when_its_catalog_connection_is_killed_inside_a_transaction(
        tmp_path, pg_url, pg_admin):
    c = Catalog.open(pg_url)
    g = make_graph(tmp_path, c)
    killed = []

    @sa.event.listens_for(c.engine.engine, "before_cursor_execute")
    def kill_mid_transaction(conn, cursor, statement, params, context, executemany):
        if not killed and statement.lstrip().upper().startswith("INSERT INTO")  \
                and "manifests" in statement:
            pid = conn.connection.dbapi_connection.get_backend_pid()
            with pg_admin.connect() as admin:
                admin.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            killed.append(pid)

    result = g.build([MID])
    assert killed, "the fault was not injected"
    assert result.ok, result.failed
    assert g.status([MID])[MID].state == "live"
    assert len(c.manifest_history(ref=MID)) == 1  # the retried commit stored it once

    @sa.event.listens_for(c.engine.engine, "begin")
    def kill_at_begin(conn):  # a read transaction (status) loses its connection too
        if len(killed) == 1:
            pid = conn.connection.dbapi_connection.get_backend_pid()
            with pg_admin.connect() as admin:
                admin.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            killed.append(pid)

    assert g.status([MID])[MID].state == "live" and len(killed) == 2


def _lose_connection_after_manifest_commit(c: Catalog, pg_admin) -> list[str]:
    """Let the server commit the first transaction that stores a manifest, then sever that
    connection before the client hears back: the driver's own lost-connection error comes
    out of COMMIT, so the catalog's real retry path runs against a committed transaction."""
    dialect, real_commit = c.engine.dialect, c.engine.dialect.do_commit
    seen, fired = [], []

    @sa.event.listens_for(c.engine.engine, "before_cursor_execute")
    def note_manifest_insert(conn, cursor, statement, params, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO") and "manifests" in statement:
            seen.append(statement)

    def commit_then_lose(fairy):
        real_commit(fairy)
        if seen and not fired:
            raw = fairy.dbapi_connection
            if c.dialect == "postgresql":
                with pg_admin.connect() as admin:
                    admin.execute(sa.text("SELECT pg_terminate_backend(:p)"),
                                  {"p": raw.get_backend_pid()})
            else:
                raw.close()
            fired.append(c.dialect)
            raw.cursor().execute("SELECT 1")  # raises: the connection is gone
        seen.clear()

    dialect.do_commit = commit_then_lose
    return fired


def test_a_manifest_commit_whose_acknowledgement_was_lost_is_not_stored_twice_or_failed(
        tmp_path, catalog_url, pg_admin):
    c = Catalog.open(catalog_url)
    g = make_graph(tmp_path, c)
    fired = _lose_connection_after_manifest_commit(c, pg_admin)
    result = g.build([MID])
    assert fired, "the fault was not injected"
    assert result.ok, result.failed
    assert g.status([MID])[MID].state == "live"
    stored = {m.manifest_id: m.ref for m in c.manifest_history()}
    assert sorted(stored.values()) == sorted(set(stored.values())), stored  # once per ref
    rows = c.partitions_of()
    assert rows and all(r.state == "live" and stored[r.manifest_id] == r.ref for r in rows)
    events = [(e.kind, e.ref) for e in c.events()]
    assert len(events) == len(set(events)), events  # committed events not logged again


def test_a_different_manifest_under_a_stored_manifest_id_still_fails_clearly(catalog_url):
    c = Catalog.open(catalog_url)
    first = PartitionManifest(ref=MID, job="mid", config={}, config_hash="h",
                              code_version="1.0.0", dataset_version="1.0.0", data_version="dv1")
    c.commit(first, "mid")
    other = PartitionManifest(ref=MID, job="mid", config={}, config_hash="h",
                              code_version="1.0.0", dataset_version="1.0.0", data_version="dv2",
                              manifest_id=first.manifest_id)
    with pytest.raises(CatalogError, match=f"manifest {first.manifest_id}.*already stored"):
        c.commit(other, "mid")
    with pytest.raises(CatalogError, match="already stored"):
        c.commit(first, "mid")  # the same one again, outside a retry, is a caller's bug too
    (stored,) = c.manifest_history(ref=MID)
    assert stored.data_version == "dv1" and c.partitions([MID])[MID].data_version == "dv1"


def _cli(tmp_path, catalog_url, *args):
    return subprocess.run(
        [sys.executable, "-m", "databuild_assets.cli", "--graph",
         "tests.faults.graph:graph_from_env", "--catalog", catalog_url, *args],
        env=env_for(tmp_path, catalog_url), capture_output=True, text=True, timeout=300,
        cwd=REPO)


def test_a_damaged_sqlite_catalog_is_a_clear_catalog_error_in_api_and_cli(tmp_path):
    path = tmp_path / "catalog.db"
    path.write_bytes(b"this is not a database, it was overwritten by mistake" * 100)
    url = f"sqlite:///{path}"
    with pytest.raises(CatalogError, match="is damaged.*restore it from a backup"):
        Catalog.open(url)
    p = _cli(tmp_path, url, "status", MID)
    assert p.returncode == 2, (p.stdout, p.stderr)
    assert "is damaged" in p.stderr and "unexpected" not in p.stderr


def test_a_locked_sqlite_catalog_is_a_catalog_error_saying_to_wait(tmp_path, monkeypatch):
    monkeypatch.setattr(catalog_engine, "SQLITE_BUSY_SECONDS", 0.3)
    path = tmp_path / "catalog.db"
    c = Catalog.open(f"sqlite:///{path}")
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(CatalogError, match="stayed locked by another process.*retry"):
            c.start_build("b1", [MID])
    finally:
        other.execute("ROLLBACK")
        other.close()
    c.start_build("b1", [MID])  # usable again once the lock is gone


def test_a_full_sqlite_catalog_is_a_catalog_error_saying_to_free_space(tmp_path):
    c = Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}")
    c.engine.dispose()
    c.start_build("b1", [MID])
    pages = sqlite3.connect(tmp_path / "catalog.db").execute("PRAGMA page_count").fetchone()[0]

    @sa.event.listens_for(c.engine, "connect")
    def cap(dbapi_conn, _rec):  # the disk is "full" a few pages from now
        dbapi_conn.execute(f"PRAGMA max_page_count={pages + 2}")

    c.engine.dispose()
    from databuild_assets.core.catalog import Event
    with pytest.raises(CatalogError, match="disk is full.*free space"):
        for _ in range(50):
            c.log([Event("b1", "planned", MID, detail={"pad": "x" * 4000})] * 20)


def test_a_rejected_request_writes_no_build_and_no_event(tmp_path, catalog_url):
    c = Catalog.open(catalog_url)
    g = make_graph(tmp_path, c)
    with pytest.raises(UnknownDatasetError):
        g.build(["nope/d=2024-02-01"])
    with pytest.raises(RefError):
        g.build([f"mid/d={D}", "mid/d=../etc"])
    assert c.builds() == [] and c.events() == []
    p = _cli(tmp_path, catalog_url, "build", "mid/x=1")
    assert p.returncode == 2 and "error:" in p.stderr, (p.stdout, p.stderr)
    assert c.builds() == [] and c.events() == []
