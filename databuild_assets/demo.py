"""``databuild demo``: build the example graph on embedded defaults and say what happened."""

from __future__ import annotations

import datetime as dt

from rich.console import Console

from .core import Graph
from .progress import BuildProgress
from .settings import Settings

DEMO_END = "2024-01-14"
DEMO_DAYS = 14


def demo_refs(end: str = DEMO_END, days: int = DEMO_DAYS) -> list[str]:
    from .examples.shop import CHANNELS, REGIONS

    last = dt.date.fromisoformat(end)
    dates = [(last - dt.timedelta(days=i)).isoformat() for i in range(days - 1, -1, -1)]
    return ([f"fx_rates/date={d}" for d in dates] + [f"trailing_revenue/date={end}"]
            + [f"region_sales/region={r}/channel={c}/date={end}"
               for r in REGIONS for c in CHANNELS]
            + [f"channel_revenue/channel={c}/date={end}" for c in CHANNELS])


def run_demo(graph: Graph, conf: Settings, console: Console):
    console.print(f"[bold]databuild demo[/]: graph '{graph.name}', catalog {graph.catalog.url}, "
                  f"data under {graph.data_root}")
    with BuildProgress(console) as progress:
        result = graph.build(demo_refs(), origin="demo", on_event=progress.on_event)
    progress.print_summary(result)
    console.print(f"trailing revenue: {graph.data_root}/trailing_revenue/date={DEMO_END}/")
    console.print("inspect:  .venv/bin/databuild status --dataset trailing_revenue")
    console.print(f"UI:       make ui   (Dagster on the same state, "
                  f"DAGSTER_HOME={conf.dagster_home})")
    return result.ok, result.manifests
