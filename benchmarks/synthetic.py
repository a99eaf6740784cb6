"""Synthetic graphs for the benchmarks: five pure-Python jobs, a trailing window, 3 dims.

The jobs write one-row DataFrames so a benchmark measures the platform (planning, catalog,
Dagster), not pandas. ``workload(n)`` requests every dataset over enough days to total
about ``n`` refs (the whole graph over a date range: the usual "rebuild the range" ask).

    raw/region/product/date      ingest    up to 31 contiguous days of a series: one config
    clean/region/product/date    clean     MATERIALIZE raw; one config per region and day
    trailing/region/product/date trailing  MATERIALIZE clean over 7 days
    region_total/region/date     rollup    MATERIALIZE clean of every product (2 dims)
    report/region/product/date   report    MATERIALIZE trailing + region_total, QUERY raw
"""

from __future__ import annotations

import datetime as dt
import functools
import math

import pandas as pd

from databuild_assets.core import (
    Graph,
    Job,
    JobConfig,
    PartitionPattern,
    date_range,
    materialize,
    query,
    shift_date,
)

WINDOW = 7
MAX_BATCH = 31  # days per ingest config (each manifest embeds its whole config)
START = "2016-01-01"


def _values(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:02d}" for i in range(n)]


@functools.lru_cache(maxsize=8192)
def _window(day: str) -> tuple[str, ...]:
    return tuple(date_range(shift_date(day, -(WINDOW - 1)), day))


def make_graph(regions: int = 10, products: int = 10, catalog=None, data_root=None,
               name: str = "synthetic") -> Graph:
    dims = {"region": _values("r", regions), "product": _values("p", products), "date": "date"}
    raw = PartitionPattern("raw/region={region}/product={product}/date={date}", dims=dims)
    clean = PartitionPattern("clean/region={region}/product={product}/date={date}", dims=dims)
    trail = PartitionPattern("trailing/region={region}/product={product}/date={date}", dims=dims)
    total = PartitionPattern("region_total/region={region}/date={date}",
                             dims={"region": dims["region"], "date": "date"})
    report = PartitionPattern("report/region={region}/product={product}/date={date}", dims=dims)
    products_ = dims["product"]

    def one_row(ctx, ref: str, value: float = 1.0) -> None:
        ctx.write(ref, pd.DataFrame({"v": [value]}))

    class Ingest(Job):
        label, outputs = "ingest", [raw]

        def configure(self, refs):
            series: dict[tuple[str, str], list[str]] = {}
            for r in refs:
                v = raw.parse(r)
                series.setdefault((v["region"], v["product"]), []).append(v["date"])
            out = []
            for (reg, prod), days in sorted(series.items()):
                days.sort()
                run = [days[0]]
                for d in days[1:] + [None]:
                    if d is not None and shift_date(run[-1], 1) == d and len(run) < MAX_BATCH:
                        run.append(d)
                        continue
                    out.append(JobConfig(outputs=[raw.format(region=reg, product=prod, date=x)
                                                  for x in run], args=[run[0], run[-1]]))
                    if d is not None:
                        run = [d]
            return out

        def run(self, config, ctx):
            for ref in sorted(config.outputs):
                one_row(ctx, ref)

    class Clean(Job):
        """All products of one region and day in one config (a batch)."""

        label, outputs = "clean", [clean]

        def configure(self, refs):
            batches: dict[tuple[str, str], list[str]] = {}
            for r in refs:
                v = clean.parse(r)
                batches.setdefault((v["region"], v["date"]), []).append(r)
            return [JobConfig(outputs=rs, inputs=materialize(*[
                raw.format(**clean.parse(r)) for r in rs])) for _k, rs in sorted(batches.items())]

        def run(self, config, ctx):
            for ref in sorted(config.outputs):
                one_row(ctx, ref, float(ctx.read(raw.format(**clean.parse(ref))).v.sum()))

    class Trailing(Job):
        label, outputs = "trailing", [trail]

        def configure(self, refs):
            out = []
            for r in refs:
                v = trail.parse(r)
                days = _window(v["date"])
                out.append(JobConfig(outputs=[r], inputs=materialize(*[
                    clean.format(region=v["region"], product=v["product"], date=d)
                    for d in days])))
            return out

        def run(self, config, ctx):
            (ref,) = config.outputs
            one_row(ctx, ref, float(len(config.materialize_inputs)))

    class Rollup(Job):
        label, outputs = "rollup", [total]

        def configure(self, refs):
            out = []
            for r in refs:
                v = total.parse(r)
                out.append(JobConfig(outputs=[r], inputs=materialize(*[
                    clean.format(region=v["region"], product=p, date=v["date"])
                    for p in products_])))
            return out

        def run(self, config, ctx):
            (ref,) = config.outputs
            one_row(ctx, ref, float(len(config.materialize_inputs)))

    class Report(Job):
        label, outputs = "report", [report]

        def configure(self, refs):
            out = []
            for r in refs:
                v = report.parse(r)
                out.append(JobConfig(
                    outputs=[r],
                    inputs=materialize(trail.format(**v),
                                       total.format(region=v["region"], date=v["date"]))
                    | query(raw.format(**v))))
            return out

        def run(self, config, ctx):
            (ref,) = config.outputs
            one_row(ctx, ref)

    jobs = [Ingest(), Clean(), Trailing(), Rollup(), Report()]
    return Graph(jobs, catalog=catalog, data_root=data_root, name=name)


def refs_per_day(regions: int = 10, products: int = 10) -> int:
    return 4 * regions * products + regions


def workload(n: int, regions: int = 10, products: int = 10, start: str = START) -> list[str]:
    """Every dataset over ceil(n / refs_per_day) days from ``start``: about n refs."""
    days = max(1, math.ceil(n / refs_per_day(regions, products)))
    end = (dt.date.fromisoformat(start) + dt.timedelta(days=days - 1)).isoformat()
    regs, prods = _values("r", regions), _values("p", products)
    out = []
    for d in date_range(start, end):
        for r in regs:
            out.append(f"region_total/region={r}/date={d}")
            for p in prods:
                for ds in ("raw", "clean", "trailing", "report"):
                    out.append(f"{ds}/region={r}/product={p}/date={d}")
    return out


def graph(catalog=None, data_root=None) -> Graph:
    """``benchmarks.synthetic:graph`` for DATABUILD_GRAPH (a 2 x 2 graph)."""
    return make_graph(2, 2, catalog=catalog, data_root=data_root)
