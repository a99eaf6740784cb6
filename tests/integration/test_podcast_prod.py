"""The podcast graph with the `prod` target: PyAirbyte, dbt and the catalog on PostgreSQL."""

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
import yaml

REPO = Path(__file__).resolve().parents[2]


def test_the_same_graph_runs_with_the_prod_target_on_postgresql(tmp_path, pg_url):
    dbname = sa.engine.make_url(pg_url).database
    pipelines = tmp_path / "pipelines.yaml"
    pipelines.write_text(yaml.safe_dump({
        "dbt_project_dir": str(REPO / "dbt_project"),
        "targets": {"prod": {"type": "postgres", "host": "127.0.0.1", "port": 5432,
                             "user": "postgres", "database": dbname, "schema": "analytics"}},
        "pipelines": []}))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABUILD_", "DAGSTER_"))}
    env.update(DATABUILD_HOME=str(tmp_path / "state"), DATABUILD_PIPELINES_FILE=str(pipelines),
               DATABUILD_TARGET="prod", DATABUILD_CATALOG_URL=pg_url,
               DATABUILD_AIRBYTE_HOME=str(REPO / ".databuild" / "airbyte"), PYTHONPATH=str(REPO))
    cli = [sys.executable, "-m", "databuild_assets.cli"]
    gen = subprocess.run(cli + ["sample-data", "--days", "14"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert gen.returncode == 0, gen.stderr
    build = subprocess.run(cli + ["build", "podcast_report/date=2024-01-14"], env=env,
                           capture_output=True, text=True, timeout=1200)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    assert "partitions built 208" in build.stdout
    eng = sa.create_engine(sa.engine.make_url(pg_url).set(drivername="postgresql+psycopg2"))
    with eng.connect() as c:
        n_cat = c.execute(sa.text("select count(*) from analytics.categorized_reviews")).scalar()
        days = c.execute(sa.text("select count(distinct review_date) from "
                                 "analytics.daily_category_summary")).scalar()
        raw = c.execute(sa.text("select count(*) from airbyte_podcast.reviews")).scalar()
        manifests = c.execute(sa.text("select count(*) from databuild.manifests")).scalar()
    eng.dispose()
    assert n_cat > 1000 and days == 14 and raw > 0 and manifests == 208
    assert (tmp_path / "state" / "reports" / "podcast_report_2024-01-14.html").exists()
