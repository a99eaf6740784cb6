"""Pipeline files for tests: the real dbt project on a DuckDB file or a PostgreSQL db."""

from __future__ import annotations

from pathlib import Path

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
