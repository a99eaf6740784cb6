"""``databuild demo``: the podcast-reviews platform end to end on embedded defaults.

Generates 14 days of landing files (once), builds the report of the last day (planning
pulls in everything upstream: Airbyte ingest, validation, dbt, Python jobs) and says what
happened and where the time went. A second run is a null build. The command is registered
by this package's CLI plugin (``cli.py``)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from databuild_assets.progress import BuildProgress

if TYPE_CHECKING:
    from rich.console import Console

    from databuild_assets.core import Graph
    from databuild_assets.settings import Settings

DEMO_END = "2024-01-14"
DEMO_DAYS = 14


def ensure_sample_data(conf: Settings, console: Console) -> None:
    from .sample_data import generate

    landing = conf.home / "landing"
    if (landing / "podcasts.jsonl").exists():
        return
    summary = generate(landing, end=DEMO_END, days=DEMO_DAYS)
    console.print(f"sample data: {summary} -> {landing}")


class PhaseTimes:
    """Seconds per phase of a build (ingest, dbt, python jobs), from the build's node events;
    with nodes running side by side the phases may add up to more than the wall time."""

    def __init__(self, graph: Graph, forward=None, before_ingest=None):
        self.graph, self.forward, self.before_ingest = graph, forward, before_ingest
        self.seconds: dict[str, float] = {}
        self._started: dict[int, tuple[str, float]] = {}

    def phase(self, job_label: str) -> str:
        job = self.graph.registry.jobs.get(job_label)
        if "dbt" in (getattr(job, "kinds", None) or []):
            return "dbt"
        return "ingest" if getattr(job, "group", "") == "ingest" else "python jobs"

    def on_event(self, kind, node, payload):
        if kind == "planned" and self.before_ingest and any(
                self.phase(n.job) == "ingest" for n in payload.nodes):
            t0 = time.perf_counter()
            self.before_ingest()  # e.g. install connectors: timed on its own
            self.seconds["install"] = time.perf_counter() - t0
        if kind == "building" and node is not None:
            self._started[id(node)] = (self.phase(node.job), time.perf_counter())
        elif kind in ("node_done", "blocked") and id(node) in self._started:
            phase, t0 = self._started.pop(id(node))
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - t0
        if self.forward:
            self.forward(kind, node, payload)


def install_connectors(conf: Settings, console: Console) -> None:
    """Install the example's Airbyte connector before the first sync (with uv when
    available), so the time it takes is reported on its own; a no-op once installed."""
    from resources.airbyte_connector import install_connector

    class _Log:
        def info(self, msg):
            console.print(f"[dim]{msg}[/]")

        warning = error = info

    install_connector("source-file", "airbyte-source-file", conf.airbyte_home, log=_Log())


def _where_the_time_went(total: float, phases: dict[str, float]) -> str:
    named = ["install", "ingest", "dbt", "python jobs"]
    parts = [f"{p} {phases.get(p, 0.0):.1f}s" for p in named]
    rest = total - sum(phases.get(p, 0.0) for p in named)
    return f"time: {total:.1f}s = " + ", ".join(parts) + f", planning and bookkeeping {max(rest, 0):.1f}s"


def run_demo(graph: Graph, conf: Settings, console: Console):
    started = time.perf_counter()
    ensure_sample_data(conf, console)
    report = f"podcast_report/date={DEMO_END}"
    console.print(f"[bold]databuild demo[/]: building {report} (graph '{graph.name}', "
                  f"catalog {graph.catalog.url})")
    with BuildProgress(console) as progress:
        phases = PhaseTimes(graph, progress.on_event,
                            before_ingest=lambda: install_connectors(conf, console))
        result = graph.build([report], origin="demo", on_event=phases.on_event)
    progress.print_summary(result)
    console.print(_where_the_time_went(time.perf_counter() - started, phases.seconds))
    if result.ok:
        m = graph.catalog.manifest_history(ref=report, limit=1)[0]
        console.print(f"report:   {m.metadata.get('report_path')}")
    console.print(f"inspect:  .venv/bin/databuild status {report}")
    console.print(f"UI:       make ui   (Dagster on the same state: DAGSTER_HOME="
                  f"{conf.dagster_home}; or .venv/bin/databuild ui)")
    return result.ok, result.manifests
