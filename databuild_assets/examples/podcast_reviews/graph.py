"""The podcast-reviews graph, bound to the project's state folder and warehouse target."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from databuild_assets.core import Graph

from .analytics import PhraseStats, PodcastReport, TrailingRatings
from .dbt_jobs import DbtCategorize, DbtSummary
from .ingest import IngestReviews, LoadPodcasts, ValidateReviews


@dataclass(frozen=True)
class PodcastEnv:
    landing: Path
    target: object  # resources.targets.WarehouseTarget
    dbt_project: Path
    reports_dir: Path
    airbyte_home: Path
    dbt_parse_cache: Path | None = None  # keeps dbt's partial_parse.msgpack between dbt jobs


def make_graph(env: PodcastEnv, catalog=None, data_root=None) -> Graph:
    jobs = [LoadPodcasts(env), IngestReviews(env), ValidateReviews(), DbtCategorize(env),
            DbtSummary(env), PhraseStats(), TrailingRatings(), PodcastReport(env)]
    return Graph(jobs, catalog=catalog, data_root=data_root, name="podcast_reviews")


def env_from_settings(conf=None) -> PodcastEnv:
    from databuild_assets import settings
    from resources.dbt import DEFAULT_PROJECT
    from resources.pipelines import load
    from resources.targets import WarehouseTarget

    conf = conf or settings.load()
    target = WarehouseTarget("dev", "duckdb", path=str(conf.home / "warehouse" / "dev.duckdb"))
    project = DEFAULT_PROJECT
    if conf.pipelines_file.is_file():
        pf = load(conf.pipelines_file)
        project = pf.dbt_project_dir or project
        if conf.target in pf.targets:
            target = pf.targets[conf.target]
            if target.type == "duckdb" and conf.target == "dev":  # follow the state folder
                target = WarehouseTarget("dev", "duckdb",
                                         path=str(conf.home / "warehouse" / "dev.duckdb"),
                                         schema=target.schema)
    return PodcastEnv(landing=conf.home / "landing", target=target, dbt_project=Path(project),
                      reports_dir=conf.home / "reports", airbyte_home=conf.airbyte_home,
                      dbt_parse_cache=conf.home / "dbt" / ".parse" / f"podcast-jobs-{target.name}")


def graph() -> Graph:
    """Factory for DATABUILD_GRAPH=databuild_assets.examples.podcast_reviews.graph:graph."""
    return make_graph(env_from_settings())
