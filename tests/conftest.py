"""Shared fixtures: catalogs on SQLite and on the local PostgreSQL (own database per test);
test tiers by folder; the order in which `make test` hands test files to its workers."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

TESTS = Path(__file__).resolve().parent
# the folder is the tier: tests/unit -> unit (pure: no Dagster run, dbt, subprocess or server),
# tests/integration, tests/faults, tests/e2e
TIERS = ("unit", "integration", "faults", "e2e")


def tier_of(path: Path) -> str | None:
    """The tier of a test file: the first folder under tests/ (None outside the tiers)."""
    try:
        top = Path(path).resolve().relative_to(TESTS).parts[0]
    except (ValueError, IndexError):
        return None
    return top if top in TIERS else None


def pytest_collection_modifyitems(config, items):
    for item in items:
        tier = tier_of(item.path)
        if tier:
            item.add_marker(getattr(pytest.mark, tier))


PG_ADMIN_URL = os.environ.get("DATABUILD_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _engine(url: str, **kw) -> sa.Engine:
    return sa.create_engine(sa.engine.make_url(url).set(drivername="postgresql+psycopg2"), **kw)


def _pg_reachable() -> str | None:
    try:
        eng = _engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with eng.connect():
            pass
        eng.dispose()
        return None
    except Exception as e:  # noqa: BLE001
        return str(e).splitlines()[0]


@pytest.fixture(scope="session")
def pg_admin():
    problem = _pg_reachable()
    if problem:
        msg = f"PostgreSQL unreachable at {PG_ADMIN_URL}: {problem}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " (CI=true: PostgreSQL tests must run, not skip)")
        pytest.skip(msg)
    eng = _engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    yield eng
    eng.dispose()


@pytest.fixture
def pg_url(pg_admin):
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    name = f"databuild_t_{uuid.uuid4().hex[:10]}"
    with pg_admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with pg_admin.connect() as c:
        c.execute(sa.text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"))
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))


@pytest.fixture(params=["sqlite", "postgres"])
def catalog_url(request, tmp_path):
    """Every catalog test runs on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'catalog.db'}"
    return request.getfixturevalue("pg_url")
