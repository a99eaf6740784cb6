"""A tiny graph for the fault suite: src -> mid (+ QUERY fx) -> top, one ref per config.

Options (also from the environment, for subprocess builds: FAULTS_ROOT, FAULTS_OPTS JSON):
``gate={ref: path}`` makes the job of ``ref`` write ``path + '.reached'`` and wait until
``path`` exists; ``fail=[refs]`` makes them raise; ``code={job: version}`` and
``versions={dataset: version}`` set versions. Every execution is logged to executions.log.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd

from databuild_assets.core import Graph, Job, JobConfig, PartitionPattern, materialize, query


def executions(root) -> list[str]:
    p = Path(root) / "executions.log"
    return p.read_text().split("\n")[:-1] if p.exists() else []


def make_graph(root, catalog=None, **opts) -> Graph:
    root = Path(root)
    v = opts.get("versions", {})
    SRC = PartitionPattern("src/d={d}", version=v.get("src", "1.0.0"))
    FX = PartitionPattern("fx/d={d}")
    MID = PartitionPattern("mid/d={d}", version=v.get("mid", "1.0.0"))
    TOP = PartitionPattern("top/d={d}")

    class Base(Job):
        def __init__(self):
            self.code_version = opts.get("code", {}).get(self.label, "1.0.0")

        def configure(self, refs):
            return [JobConfig(outputs=[r], inputs=self.deps(r.split("=", 1)[1])) for r in refs]

        def deps(self, d):
            return set()

        def run(self, config, ctx):
            (ref,) = config.outputs
            gate = opts.get("gate", {}).get(ref)
            if gate:
                Path(gate + ".reached").write_text(str(os.getpid()))
                while not Path(gate).exists():
                    time.sleep(0.05)
            if ref in opts.get("fail", ()):
                raise RuntimeError(f"injected failure for {ref}")
            with open(root / "executions.log", "a") as f:
                f.write(f"{self.label} {ref}\n")
            ctx.write(ref, self.compute(ref.split("=", 1)[1], ctx))

    class Src(Base):
        label, outputs = "src", [SRC]

        def compute(self, d, ctx):
            f = root / "landing" / f"{d}.json"
            return pd.DataFrame({"value": json.loads(f.read_text()) if f.exists() else [1, 2, 3]})

    class Fx(Base):
        label, outputs = "fx", [FX]

        def compute(self, d, ctx):
            return pd.DataFrame({"rate": [2.0]})

    class Mid(Base):
        label, outputs = "mid", [MID]

        def deps(self, d):
            return materialize(SRC.format(d=d)) | query(FX.format(d=d))

        def compute(self, d, ctx):
            fx = ctx.read(FX.format(d=d))
            rate = float(fx.rate.iloc[0]) if fx is not None else 1.0
            return pd.DataFrame({"total": [float(ctx.read(SRC.format(d=d)).value.sum()) * rate]})

    class Top(Base):
        label, outputs = "top", [TOP]

        def deps(self, d):
            return materialize(MID.format(d=d))

        def compute(self, d, ctx):
            return ctx.read(MID.format(d=d)).assign(scaled=lambda t: t.total * 10)

    return Graph([Src(), Fx(), Mid(), Top()], catalog=catalog, data_root=root / "data",
                 name="faults")


def graph_from_env() -> Graph:
    return make_graph(Path(os.environ["FAULTS_ROOT"]), **json.loads(
        os.environ.get("FAULTS_OPTS", "{}")))
