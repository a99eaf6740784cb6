"""Plan throughput, peak memory of planning, and the null build.

Each plan is measured in a fresh subprocess (``python -m benchmarks.planning URL N``) on
an empty catalog: the time of ``graph.plan(refs)`` and the process's peak RSS
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``), so sizes do not disturb each other.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

from .common import Timer, backends, catalog_url, log, rate, rnd, scratch, skipped

REPO = Path(__file__).resolve().parents[1]


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def plan_once(url: str, n: int) -> dict:
    """Runs in the subprocess: plan ~n refs of the synthetic graph on an empty catalog."""
    from databuild_assets.core import Catalog

    from .synthetic import make_graph, workload

    with scratch() as folder:
        graph = make_graph(catalog=Catalog.open(url), data_root=folder)
        refs = workload(n)
        graph.plan(refs[:10])  # connect, create tables, warm caches
        before = _maxrss_mb()
        with Timer() as t:
            plan = graph.plan(refs)
        planned = sum(len(c.outputs) for c in plan.nodes)
        return {"requested_refs": len(refs), "planned_refs": planned,
                "configs": len(plan.nodes), "seconds": rnd(t.seconds),
                "refs_per_s": rate(len(refs), t.seconds),
                "planned_refs_per_s": rate(planned, t.seconds),
                "rss_before_plan_mb": rnd(before, 1), "peak_rss_mb": rnd(_maxrss_mb(), 1)}


def _subprocess_plan(url: str, n: int, timeout: float) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.planning", url, str(n)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"plan subprocess failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def plan_throughput(sizes: list[int], timeout: float = 900) -> list[dict]:
    out: list[dict] = []
    why: dict[str, str] = {}
    for backend in backends(why):
        for n in sizes:
            with scratch() as folder, catalog_url(backend, folder) as url:
                log(f"plan {n} refs on {backend}")
                fig = _subprocess_plan(url, n, timeout)
            out.append({"catalog": backend, **fig})
    out += [skipped(b, w, requested_refs=n) for b, w in why.items() for n in sizes]
    return out


def peak_memory(plans: list[dict], n: int) -> dict:
    """The peak RSS of the subprocess that planned n refs on SQLite (taken from the
    throughput run of that size, or measured on its own)."""
    fig = next((p for p in plans if p.get("catalog") == "sqlite"
                and p.get("requested_refs", 0) >= n * 0.99 and "skipped" not in p), None)
    if fig is None:
        with scratch() as folder, catalog_url("sqlite", folder) as url:
            log(f"peak memory of planning {n} refs")
            fig = _subprocess_plan(url, n, 900)
    return {"requested_refs": fig["requested_refs"], "planned_refs": fig["planned_refs"],
            "catalog": "sqlite", "peak_rss_mb": fig["peak_rss_mb"],
            "rss_before_plan_mb": fig["rss_before_plan_mb"],
            "method": "resource.getrusage(RUSAGE_SELF).ru_maxrss of a fresh process that "
                      "imports databuild, builds the ref list and plans it"}


def null_build(n: int) -> dict:
    """Full build of ~n requested refs (SQLite, Parquet), then the same request again."""
    from databuild_assets.core import Catalog

    from .synthetic import make_graph, workload

    with scratch() as folder:
        graph = make_graph(catalog=Catalog.open(f"sqlite:///{folder / 'catalog.db'}"),
                           data_root=folder / "data")
        refs = workload(n)
        log(f"full build of {len(refs)} refs")
        with Timer() as full:
            first = graph.build(refs)
        if not first.ok:
            raise RuntimeError(f"full build failed: {sorted(first.failed.items())[:3]}")
        log("null build")
        with Timer() as null:
            again = graph.build(refs)
        assert not again.manifests and again.ok, "the null build rebuilt something"
        return {"catalog": "sqlite", "requested_refs": len(refs),
                "partitions_built": len(first.manifests), "configs_run": first.jobs_run,
                "full_build_s": rnd(full.seconds), "null_build_s": rnd(null.seconds),
                "full_build_ms_per_partition": rnd(full.seconds * 1000 / len(first.manifests)),
                "ratio_full_over_null": rnd(full.seconds / null.seconds, 1),
                "null_build_skipped_refs": len(again.plan.skipped)}


if __name__ == "__main__":  # the measuring subprocess
    print(json.dumps(plan_once(sys.argv[1], int(sys.argv[2]))))
