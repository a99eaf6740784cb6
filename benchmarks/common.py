"""Shared helpers: timing, scratch folders, catalogs on SQLite and on a throwaway
PostgreSQL database (created and dropped by the benchmark itself)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("DATABUILD_BENCH_PG_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ("sqlite", "postgresql")


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.start


def rnd(x: float, digits: int = 4) -> float:
    return float(round(x, digits))


def rate(count: int, seconds: float) -> float:
    return rnd(count / seconds, 1) if seconds > 0 else 0.0


@contextmanager
def scratch(prefix: str = "databuild-bench-") -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _admin_engine() -> sa.Engine:
    url = sa.engine.make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg2")
    return sa.create_engine(url, isolation_level="AUTOCOMMIT",
                            connect_args={"connect_timeout": 5})


def pg_problem() -> str | None:
    """None when the PostgreSQL server answers, else why not."""
    try:
        eng = _admin_engine()
        with eng.connect():
            pass
        eng.dispose()
        return None
    except Exception as e:  # noqa: BLE001
        return str(e).strip().splitlines()[0]


@contextmanager
def pg_database() -> Iterator[str]:
    """A fresh database on the benchmark server, dropped afterwards (even on failure)."""
    name = f"databuild_bench_{uuid.uuid4().hex[:10]}"
    eng = _admin_engine()
    with eng.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(
            hide_password=False)
    finally:
        with eng.connect() as c:
            c.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"))
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        eng.dispose()


@contextmanager
def catalog_url(backend: str, folder: Path) -> Iterator[str]:
    """A catalog URL on an empty catalog of the given backend."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'catalog-{uuid.uuid4().hex[:6]}.db'}"
    else:
        with pg_database() as url:
            yield url


def backends(skip_reason: dict[str, str]) -> list[str]:
    """The backends to measure; PostgreSQL is reported as skipped when unreachable."""
    problem = pg_problem()
    if problem:
        skip_reason["postgresql"] = f"PostgreSQL unreachable at {PG_ADMIN_URL}: {problem}"
        return ["sqlite"]
    return list(BACKENDS)


def skipped(backend: str, why: str, **workload) -> dict:
    return {"catalog": backend, **workload, "skipped": why}
