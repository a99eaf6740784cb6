"""Three chained daily jobs writing one-row DataFrames: the workload of the Dagster
side-by-side benchmark and of the scale-out test (``DATABUILD_GRAPH=benchmarks.daily:graph``).

    extract/date   extract    no inputs
    transform/date transform  MATERIALIZE extract (same day)
    publish/date   publish    MATERIALIZE transform (same day)
"""

from __future__ import annotations

import pandas as pd

from databuild_assets.core import DateDim, Graph, Job, JobConfig, PartitionPattern, materialize

START = "2023-01-01"
EXTRACT = PartitionPattern("extract/date={date}", dims={"date": DateDim("date", start=START)})
TRANSFORM = PartitionPattern("transform/date={date}",
                             dims={"date": DateDim("date", start=START)})
PUBLISH = PartitionPattern("publish/date={date}", dims={"date": DateDim("date", start=START)})


class Extract(Job):
    label, outputs = "extract", [EXTRACT]

    def configure(self, refs):
        return [JobConfig(outputs=[r]) for r in refs]

    def run(self, config, ctx):
        (ref,) = config.outputs
        ctx.write(ref, pd.DataFrame({"v": [len(ref)]}))


class _Step(Job):
    source: PartitionPattern
    target: PartitionPattern

    def configure(self, refs):
        return [JobConfig(outputs=[r], inputs=materialize(
            self.source.format(**self.target.parse(r)))) for r in refs]

    def run(self, config, ctx):
        (ref,) = config.outputs
        (src,) = config.materialize_inputs
        ctx.write(ref, pd.DataFrame({"v": [int(ctx.read(src).v.sum()) + 1]}))


class Transform(_Step):
    label, outputs = "transform", [TRANSFORM]
    source, target = EXTRACT, TRANSFORM


class Publish(_Step):
    label, outputs = "publish", [PUBLISH]
    source, target = TRANSFORM, PUBLISH


graph = Graph([Extract(), Transform(), Publish()], name="daily")


def days(n: int, start: str = START) -> list[str]:
    from databuild_assets.core import date_range, shift_date

    return date_range(start, shift_date(start, n - 1))


def refs(n: int) -> list[str]:
    return [PUBLISH.format(date=d) for d in days(n)]
