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


# `make test` hands whole files to 3 workers (--dist loadfile); by default pytest-xdist hands
# out files with the most tests first, which leaves the long single-test files (a daemon, a
# UI, a process per job) for the end, where one of them becomes the tail of the run. These
# files take minutes each (estimated from what they start; longest first) and go first; the
# rest follow in collection order. Order only: every test still runs, with the same fixtures.
SLOW_FIRST = (
    "e2e/test_dagster_ui.py",
    "integration/test_dagster_backfill.py",
    "integration/test_code_location_contract.py",
    "integration/test_code_location_contract_other_jobs.py",
    "integration/test_automation_daemon.py",
    "integration/test_scale_out.py",
    "integration/test_dagster_schedules.py",
    "e2e/test_demo.py",
    "integration/test_outside_dbt_project.py",
    "integration/test_pipelines_run.py",
    "integration/test_celery.py",
    "integration/test_run_retries.py",
    "integration/test_locks.py",
    "integration/test_airbyte_embedded.py",
    "integration/test_benchmarks_smoke.py",
    "integration/test_sensor_ticks.py",
)


def _rank(path: Path) -> int:
    try:
        return SLOW_FIRST.index(Path(path).resolve().relative_to(TESTS).as_posix())
    except ValueError:
        return len(SLOW_FIRST)


def pytest_collection_modifyitems(config, items):
    for item in items:
        tier = tier_of(item.path)
        if tier:
            item.add_marker(getattr(pytest.mark, tier))
    items.sort(key=lambda item: _rank(item.path))  # stable: each file's tests keep their order


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """--dist loadfile in collection order (slowest files first), not by number of tests."""
    if config.getoption("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    config.option.loadscopereorder = False
    return LoadFileScheduling(config, log)


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
