"""A graph whose jobs leave a trace of when they run, to see what ran side by side.

``make_graph(root, spec, days)``: one job per entry of ``spec`` ({label: options}), one config
per day. Options: ``after`` (labels read as MATERIALIZE inputs), ``meet`` (labels: wait until
one of their jobs has started for the same day, and trace whether it did), ``hold`` (seconds
to stay running: a window in which a neighbour could overlap, never asserted on), ``fail``,
``warehouse`` (kinds dbt, writing the ``dev`` target of project ``proj``: the task layer's
pool key). Each job appends ``start``/``end`` lines to ``trace.log`` and touches
``started/<label>-<day>``. Subprocesses rebuild the graph from PARALLEL_ROOT/PARALLEL_SPEC.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from databuild_assets.core import Graph, Job, JobConfig, PartitionPattern, materialize

MEET_LIMIT_S = 120.0  # safety net: a job whose partner never starts stops waiting


def pattern(label: str) -> PartitionPattern:
    return PartitionPattern(f"{label}/d={{d}}")


def trace(root) -> list[tuple[str, str, str]]:
    """(event, label, day) lines in the order the jobs wrote them."""
    p = Path(root) / "trace.log"
    return [tuple(line.split(" ", 2)) for line in p.read_text().splitlines()] if p.exists() else []


def _note(root: Path, line: str) -> None:
    with open(root / "trace.log", "a") as f:  # O_APPEND: one write per line, never torn
        f.write(line + "\n")


class Probe(Job):
    def __init__(self, root: Path, label: str, opts: dict):
        self.root, self.label, self.opts = Path(root), label, opts
        self.outputs = [pattern(label)]
        if opts.get("warehouse"):
            self.kinds = ["dbt", "python"]
            self.env = SimpleNamespace(target=SimpleNamespace(name="dev"),
                                       dbt_project=self.root / "proj")

    def configure(self, refs):
        return [JobConfig(outputs=[r], inputs=materialize(
            *[pattern(a).format(d=r.split("=", 1)[1]) for a in self.opts.get("after", ())]))
            for r in refs]

    def run(self, config, ctx):
        (ref,) = config.outputs
        day = ref.split("=", 1)[1]
        started = self.root / "started"
        started.mkdir(exist_ok=True)
        # the trace line first: a partner that sees the file has our start in the trace already
        _note(self.root, f"start {self.label} {day}")
        (started / f"{self.label}-{day}").touch()
        meet = self.opts.get("meet", ())
        if meet:
            deadline = time.monotonic() + MEET_LIMIT_S
            while time.monotonic() < deadline and not any(
                    (started / f"{m}-{day}").exists() for m in meet):
                time.sleep(0.02)
            met = any((started / f"{m}-{day}").exists() for m in meet)
            _note(self.root, f"{'met' if met else 'alone'} {self.label} {day}")
        time.sleep(self.opts.get("hold", 0))
        _note(self.root, f"end {self.label} {day}")
        if self.opts.get("fail"):
            raise RuntimeError(f"injected failure in {self.label}")
        ctx.write(ref, pd.DataFrame({"v": [1]}))


def make_graph(root, spec: dict, catalog=None) -> Graph:
    return Graph([Probe(root, label, opts) for label, opts in spec.items()], catalog=catalog,
                 data_root=Path(root) / "data", name="parallel")


def graph_from_env() -> Graph:
    return make_graph(Path(os.environ["PARALLEL_ROOT"]), json.loads(os.environ["PARALLEL_SPEC"]))


def env_for(root, spec: dict) -> dict:
    return {**os.environ, "PARALLEL_ROOT": str(root), "PARALLEL_SPEC": json.dumps(spec),
            "DATABUILD_HOME": str(Path(root) / "home")}
