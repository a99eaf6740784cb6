"""Side by side, in one process and one benchmark run: building N daily partitions through
three jobs (benchmarks.daily) four ways, each from scratch (fresh catalog, data root and
Dagster instance on SQLite):

* ``core``: ``graph.build`` without Dagster, the baseline the overheads are measured from;
* ``databuild_dagster``: ``build_with_dagster`` (``databuild build --dagster``): one run
  per job and wave, 3 runs whatever N;
* ``dagster_per_partition_runs``: Dagster's default backfill shape, one run per partition
  of a job materializing the same three assets;
* ``dagster_single_run_backfill``: one run over the whole partition range
  (``BackfillPolicy.single_run``).

Overhead per partition = (seconds - core seconds) * 1000 / partitions, partitions = 3N.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from databuild_assets.core import Catalog
from databuild_assets.dagster.launcher import build_with_dagster

from . import daily
from .common import Timer, log, rnd, scratch

GRAPH_SPEC = "benchmarks.daily:graph"
DAGSTER_YAML = "telemetry:\n  enabled: false\n"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def all_assets_job(graph_spec: str, catalog_url: str, data_root: str):
    """Module-level so Dagster can reconstruct it: the graph's assets in one asset job."""
    from databuild_assets.cli import load_graph
    from databuild_assets.dagster import build_definitions

    defs = build_definitions(load_graph(graph_spec), catalog_url=catalog_url,
                             data_root=data_root)
    job = dg.define_asset_job("all_assets", selection=dg.AssetSelection.all(),
                              executor_def=dg.in_process_executor)
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def("all_assets")


class _Setup:
    def __init__(self, root: Path):
        root.mkdir(parents=True)
        self.home = root / "dagster"
        self.home.mkdir()
        (self.home / "dagster.yaml").write_text(DAGSTER_YAML)
        self.url = f"sqlite:///{root / 'catalog.db'}"
        self.data = root / "data"
        self.graph = daily.graph.bind(Catalog.open(self.url), self.data)

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.home))

    def recon(self):
        return dg.build_reconstructable_job(
            "benchmarks.dagster_bench", "all_assets_job",
            reconstructable_args=(GRAPH_SPEC, self.url, str(self.data)))

    def check(self, n: int) -> None:
        st = self.graph.status([r for d in daily.days(n) for r in (
            daily.EXTRACT.format(date=d), daily.TRANSFORM.format(date=d),
            daily.PUBLISH.format(date=d))])
        bad = sorted(r for r, s in st.items() if s.state != "live")
        if bad:
            raise RuntimeError(f"{len(bad)} partitions not live after the run, e.g. {bad[:3]}")


def _core(root: Path, n: int) -> dict:
    s = _Setup(root)
    with Timer() as t:
        result = s.graph.build(daily.refs(n))
    assert result.ok
    s.check(n)
    return {"seconds": rnd(t.seconds), "runs": 0}


def _databuild_dagster(root: Path, n: int) -> dict:
    s = _Setup(root)
    with Timer() as t:
        result = build_with_dagster(s.graph, GRAPH_SPEC, daily.refs(n), dagster_home=s.home)
    if not result.ok:
        raise RuntimeError(f"build --dagster failed: {sorted(result.failed.items())[:3]}")
    s.check(n)
    return {"seconds": rnd(t.seconds), "runs": len(result.runs)}


def _run(s: _Setup, instance, recon, tags: dict) -> None:
    with dg.execute_job(recon, instance=instance, tags=tags, raise_on_error=True,
                        run_config=QUIET) as res:
        if not res.success:
            raise RuntimeError(f"Dagster run {res.run_id} failed")


def _per_partition(root: Path, n: int) -> dict:
    s = _Setup(root)
    instance, recon = s.instance(), s.recon()
    with Timer() as t:
        for day in daily.days(n):
            _run(s, instance, recon, {PARTITION_NAME_TAG: day})
    s.check(n)
    return {"seconds": rnd(t.seconds), "runs": n}


def _live_count(s: _Setup, n: int) -> int:
    try:
        s.check(n)
        return 3 * n
    except RuntimeError as e:
        return 3 * n - int(str(e).split()[0])


def _single_run(root: Path, n: int) -> dict:
    """One range run per job, in dependency order (3 runs). One run over all three assets
    is tried first and reported: today the adapter's range steps yield no outputs, so
    Dagster skips the downstream steps of that run (see docs/performance.md)."""
    days = daily.days(n)
    tags = {ASSET_PARTITION_RANGE_START_TAG: days[0], ASSET_PARTITION_RANGE_END_TAG: days[-1]}
    one = _Setup(root / "one_run")
    with Timer() as t1:
        with dg.execute_job(one.recon(), instance=one.instance(), tags=tags,
                            raise_on_error=False, run_config=QUIET) as res:
            ok = res.success
    tried = {"seconds": rnd(t1.seconds), "run_succeeded": ok,
             "live_partitions": _live_count(one, n), "partitions": 3 * n}
    s = _Setup(root / "per_job")
    instance = s.instance()
    with Timer() as t:
        for job in ("extract", "transform", "publish"):
            recon = dg.build_reconstructable_job(
                "databuild_assets.dagster.launcher", "reconstruct_job",
                reconstructable_args=(GRAPH_SPEC, s.url, str(s.data), f"{job}__job"))
            _run(s, instance, recon, tags)
    s.check(n)
    return {"seconds": rnd(t.seconds), "runs": 3,
            "shape": "one range run per job (BackfillPolicy.single_run), in dependency order",
            "one_run_over_all_assets": tried}


def side_by_side(n: int) -> dict:
    partitions = 3 * n
    ways = {"core": _core, "databuild_dagster": _databuild_dagster,
            "dagster_per_partition_runs": _per_partition,
            "dagster_single_run_backfill": _single_run}
    out: dict = {"days": n, "jobs": 3, "partitions": partitions,
                 "dagster_version": dg.__version__, "storage": "sqlite (Dagster and catalog)"}
    with scratch() as folder:
        log("dagster side by side: warm-up (imports, first run), not measured")
        _databuild_dagster(folder / "warmup_a", 2)
        _per_partition(folder / "warmup_b", 1)
        for name, fn in ways.items():
            log(f"dagster side by side: {name}, {n} days x 3 jobs")
            out[name] = fn(folder / name, n)
    core = out["core"]["seconds"]
    for name in ways:
        fig = out[name]
        fig["ms_per_partition"] = rnd(fig["seconds"] * 1000 / partitions, 2)
        if name != "core":
            fig["overhead_ms_per_partition"] = rnd((fig["seconds"] - core) * 1000 / partitions, 2)
    ours = max(out["databuild_dagster"]["overhead_ms_per_partition"], 0.01)
    out["ratios"] = {
        "per_partition_runs_overhead_over_databuild_dagster_overhead": rnd(
            out["dagster_per_partition_runs"]["overhead_ms_per_partition"] / ours, 1),
        "per_partition_runs_seconds_over_databuild_dagster_seconds": rnd(
            out["dagster_per_partition_runs"]["seconds"] / out["databuild_dagster"]["seconds"], 2),
        "single_run_seconds_over_databuild_dagster_seconds": rnd(
            out["dagster_single_run_backfill"]["seconds"] / out["databuild_dagster"]["seconds"],
            2),
    }
    return out
