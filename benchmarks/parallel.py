"""Goal 6: parallel execution of independent plan nodes, ``graph.build(refs, jobs=N)``
(``databuild build --jobs N``), on I/O-bound jobs: each config sleeps, as a job waiting on a
warehouse or an API would. 1 worker against 2, same plan, fresh catalog each; then the same
for ``build --dagster`` (1 run in flight against 2).

When the core has no ``jobs`` option yet the figure says so (``supported: false``) and the
goal is reported missed, never guessed."""

from __future__ import annotations

import inspect
import time

import pandas as pd

from databuild_assets.core import DateDim, Graph, Job, JobConfig, PartitionPattern, materialize

from .common import Timer, log, rnd, scratch

SLEEP_S = 0.5  # a job that waits on a warehouse query or an API call
GRAPH_SPEC = "benchmarks.parallel:make_graph"
START = "2024-01-01"


def _pattern(name: str) -> PartitionPattern:
    return PartitionPattern(name + "/date={date}", dims={"date": DateDim("date", start=START)})


class _Fetch(Job):
    """One config per day, no inputs: independent nodes the build may run side by side."""

    def __init__(self, name: str):
        self.label, self.outputs = name, [_pattern(name)]

    def configure(self, refs):
        return [JobConfig(outputs=[r]) for r in refs]

    def run(self, config, ctx):
        time.sleep(SLEEP_S)
        for ref in config.outputs:
            ctx.write(ref, pd.DataFrame({"v": [1]}))


class _Combine(Job):
    label, outputs = "combine", [_pattern("combine")]

    def configure(self, refs):
        out = []
        for r in refs:
            day = self.outputs[0].parse(r)["date"]
            out.append(JobConfig(outputs=[r], inputs=materialize(
                *[_pattern(f"fetch_{i}").format(date=day) for i in range(4)])))
        return out

    def run(self, config, ctx):
        time.sleep(SLEEP_S)
        for ref in config.outputs:
            ctx.write(ref, pd.DataFrame({"v": [len(config.materialize_inputs)]}))


def make_graph() -> Graph:
    return Graph([*[_Fetch(f"fetch_{i}") for i in range(4)], _Combine()], name="io_bound")


def supported() -> bool:
    from databuild_assets.core.build import run_build

    return "jobs" in inspect.signature(run_build).parameters


def parallel_build(days: int, dagster: bool = True) -> dict:
    """CLI builds 1 vs 2 workers; with ``dagster`` (full mode: each run starts Dagster, tens
    of seconds in all) build --dagster 1 vs 2 runs in flight too."""
    from databuild_assets.core import Catalog, date_range, shift_date

    refs = [_pattern("combine").format(date=d)
            for d in date_range(START, shift_date(START, days - 1))]
    out: dict = {"workload": f"4 independent I/O-bound jobs (sleep {SLEEP_S} s per config) "
                             f"and one that combines them, {days} days: {5 * days} configs",
                 "configs": 5 * days, "supported": supported()}
    if not out["supported"]:
        out["note"] = "graph.build has no jobs option in this version: nodes run one at a time"
        return out
    for via in ("cli", "dagster") if dagster else ("cli",):
        for workers in (1, 2):
            with scratch() as folder:
                graph = make_graph().bind(Catalog.open(f"sqlite:///{folder / 'c.db'}"),
                                          folder / "data")
                log(f"parallel build ({via}): {5 * days} configs with jobs={workers}")
                with Timer() as t:
                    result = _build(via, graph, refs, workers, folder)
                if not result.ok:
                    raise RuntimeError(f"parallel build ({via}) jobs={workers} failed: "
                                       f"{sorted(result.failed.items())[:3]}")
                key = "" if via == "cli" else "dagster_"
                out[f"{key}jobs_{workers}_s"] = rnd(t.seconds)
    out["speedup_2_over_1"] = rnd(out["jobs_1_s"] / out["jobs_2_s"], 2)
    if dagster:
        out["dagster_speedup_2_over_1"] = rnd(out["dagster_jobs_1_s"] / out["dagster_jobs_2_s"],
                                              2)
        out["dagster_runs"] = 5  # one per job: 4 fetch runs side by side, then combine
    return out


def _build(via: str, graph: Graph, refs: list[str], workers: int, folder):
    if via == "cli":
        return graph.build(refs, jobs=workers)
    from databuild_assets.dagster.launcher import build_with_dagster

    return build_with_dagster(graph, GRAPH_SPEC, refs, dagster_home=folder / "dagster",
                              jobs=workers)
