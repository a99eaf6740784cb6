"""Goal 8: ``build --dagster`` on Dagster's Celery executor through RabbitMQ, 1 worker
against 2 (``dagster-celery worker start``, one task at a time each; benchmarks.daily, three
waves). Two shapes, each from scratch:

* ``one_build``: one ``build --dagster`` of N days: 3 runs, one step each, one after the
  other, so a second worker has nothing to do (the figure shows what Celery costs per step);
* ``two_builds``: two ``build --dagster`` processes at once on disjoint halves of the days
  (two teams or sensors sharing the worker pool): their steps can run side by side.

The workers are started and ready before the clock starts. RabbitMQ is
``DATABUILD_BENCH_CELERY_BROKER`` (default the local one, guest/guest); unreachable: skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from . import daily
from .celery_workers import DEFAULT_BROKER, REPO, CeleryWorkers, broker_problem
from .common import Timer, log, rnd, scratch

BROKER = os.environ.get("DATABUILD_BENCH_CELERY_BROKER", DEFAULT_BROKER)
DAGSTER_YAML = "telemetry:\n  enabled: false\n"


def build_once(root: str, first_day: int, n: int, celery_json: str) -> dict:
    """Runs in a subprocess: build_with_dagster of days [first_day, first_day + n)."""
    from databuild_assets.core import Catalog
    from databuild_assets.dagster.launcher import build_with_dagster

    folder = Path(root)
    home = folder / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    graph = daily.graph.bind(Catalog.open(f"sqlite:///{folder / 'catalog.db'}"),
                             folder / "data")
    refs = daily.refs(first_day + n)[first_day:]
    result = build_with_dagster(graph, "benchmarks.daily:graph", refs, dagster_home=home,
                                celery=json.loads(celery_json))
    return {"ok": result.ok, "runs": len(result.runs), "built": len(result.built),
            "failed": dict(list(result.failed.items())[:3])}


def _builds(folder: Path, workers: CeleryWorkers, n: int, parallel: int) -> dict:
    """``parallel`` build processes at once, each over its share of the n days."""
    share = n // parallel
    with Timer() as t:
        procs = [subprocess.Popen(
            [sys.executable, "-m", "benchmarks.celery_bench", str(folder / f"build{i}"),
             str(i * share), str(share), json.dumps(workers.config)],
            cwd=REPO, env=workers.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for i in range(parallel)]
        outs = [p.communicate(timeout=1800) for p in procs]
    results = []
    for p, (out, err) in zip(procs, outs, strict=True):
        if p.returncode != 0:
            raise RuntimeError(f"celery build failed: {err[-2000:]}\n{workers.logs()}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    if not all(r["ok"] and r["built"] == 3 * share for r in results):
        raise RuntimeError(f"celery build incomplete: {results}\n{workers.logs()}")
    return {"seconds": rnd(t.seconds), "builds": parallel, "partitions": 3 * share * parallel,
            "runs": sum(r["runs"] for r in results)}


def celery_scale_out(n: int) -> dict:
    problem = broker_problem(BROKER)
    out: dict = {"days": n, "broker": BROKER.split("@")[-1],
                 "executor": "dagster_celery.celery_executor, backend rpc://",
                 "workers": "dagster-celery worker start, --concurrency=1 each"}
    if problem:
        out["skipped"] = f"RabbitMQ unreachable at {out['broker']}: {problem}"
        return out
    for count in (1, 2):
        with scratch() as folder:
            log(f"celery: starting {count} worker(s)")
            with CeleryWorkers(folder / "workers", count, BROKER) as workers:
                log(f"celery: one build --dagster of {n} days x 3 jobs, {count} worker(s)")
                out[f"one_build_{count}_workers"] = _builds(folder / "one", workers, n, 1)
                log(f"celery: two concurrent builds of {n // 2} days each, {count} worker(s)")
                out[f"two_builds_{count}_workers"] = _builds(folder / "two", workers, n, 2)
    out["speedup_one_build_2_over_1"] = rnd(
        out["one_build_1_workers"]["seconds"] / out["one_build_2_workers"]["seconds"], 2)
    out["speedup_two_builds_2_over_1"] = rnd(
        out["two_builds_1_workers"]["seconds"] / out["two_builds_2_workers"]["seconds"], 2)
    return out


if __name__ == "__main__":  # the build subprocess
    print(json.dumps(build_once(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])))
