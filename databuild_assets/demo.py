"""``databuild demo``: the podcast-reviews platform end to end on embedded defaults.

Generates 14 days of landing files (once), builds the report of the last day (planning
pulls in everything upstream: Airbyte ingest, validation, dbt, Python jobs) and says what
happened. A second run is a null build."""

from __future__ import annotations

from rich.console import Console

from .core import Graph
from .progress import BuildProgress
from .settings import Settings

DEMO_END = "2024-01-14"
DEMO_DAYS = 14


def shop_refs(end: str = DEMO_END, days: int = DEMO_DAYS) -> list[str]:
    """What the small shop example builds (used by the Dagster UI test and docs)."""
    import datetime as dt

    from .examples.shop import CHANNELS, REGIONS

    last = dt.date.fromisoformat(end)
    dates = [(last - dt.timedelta(days=i)).isoformat() for i in range(days - 1, -1, -1)]
    return ([f"fx_rates/date={d}" for d in dates] + [f"trailing_revenue/date={end}"]
            + [f"region_sales/region={r}/channel={c}/date={end}" for r in REGIONS
               for c in CHANNELS]
            + [f"channel_revenue/channel={c}/date={end}" for c in CHANNELS])


def ensure_sample_data(conf: Settings, console: Console) -> None:
    from .examples.podcast_reviews.sample_data import generate

    landing = conf.home / "landing"
    if (landing / "podcasts.jsonl").exists():
        return
    summary = generate(landing, end=DEMO_END, days=DEMO_DAYS)
    console.print(f"sample data: {summary} -> {landing}")


def run_demo(graph: Graph, conf: Settings, console: Console):
    ensure_sample_data(conf, console)
    report = f"podcast_report/date={DEMO_END}"
    console.print(f"[bold]databuild demo[/]: building {report} (graph '{graph.name}', "
                  f"catalog {graph.catalog.url})")
    with BuildProgress(console) as progress:
        result = graph.build([report], origin="demo", on_event=progress.on_event)
    progress.print_summary(result)
    if result.ok:
        m = graph.catalog.manifest_history(ref=report, limit=1)[0]
        console.print(f"report:   {m.metadata.get('report_path')}")
    console.print(f"inspect:  .venv/bin/databuild status {report}")
    console.print(f"UI:       make ui   (Dagster on the same state: DAGSTER_HOME="
                  f"{conf.dagster_home}; or .venv/bin/databuild ui)")
    return result.ok, result.manifests
