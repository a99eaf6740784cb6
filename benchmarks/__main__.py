"""python -m benchmarks [--quick]: one JSON document on stdout, a readable table on stderr.

Every figure carries its workload size; every goal of the performance issue is judged
(``goals``: ``met`` true, false, or null when the mode does not measure it). PostgreSQL
figures use a database created and dropped on DATABUILD_BENCH_PG_URL's server (default
postgresql://postgres@127.0.0.1:5432); when it is unreachable they are reported as
skipped. The full mode adds the dagster-daemon backfill, Celery and demo sections.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import sys
import time
from importlib import metadata

from . import goals
from .catalog_bench import catalog_figures
from .celery_bench import celery_scale_out
from .common import log, rnd
from .daemon_backfill import daemon_side_by_side
from .dagster_bench import side_by_side
from .demo_bench import demo_timings
from .loading import definitions_load
from .parallel import parallel_build
from .planning import null_build, peak_memory, plan_throughput

SIZES = {
    "quick": {"plan": [10_000], "peak": 10_000, "null": 1_000, "days": 10,
              "status": 10_000, "single": 500, "dbt_models": 1_000, "dbt_parse": False,
              "parallel_days": 4, "parallel_dagster": False},
    "full": {"plan": [10_000, 100_000, 1_000_000], "peak": 1_000_000, "null": 10_000,
             "days": 365, "status": 100_000, "single": 2_000, "dbt_models": 1_000,
             "dbt_parse": True, "parallel_days": 10, "parallel_dagster": True, "daemon_days": 30,
             "celery_days": 10},
}


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("dagster", "dagster-dbt", "dagster-celery", "dbt-core", "sqlalchemy", "pandas"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _save(doc: dict, output: str | None) -> None:
    if output:
        with open(output, "w") as f:
            f.write(json.dumps(doc, indent=2) + "\n")


def run(mode: str, output: str | None = None, only: list[str] | None = None) -> dict:
    """Run every section; one that raises is recorded in ``section_errors`` and the rest go on
    (a full run takes half an hour: one broken section must not lose the other figures).
    With ``output``, the document so far is written after each section; ``only``: these
    sections alone (to measure one again after a change; goals without figures stay unjudged)."""
    size = SIZES[mode]
    started = time.perf_counter()
    doc: dict = {
        "benchmark": "databuild", "schema_version": 1, "mode": mode,
        "command": "python -m benchmarks" + (" --quick" if mode == "quick" else ""),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "load_average_at_start": [rnd(x, 2) for x in os.getloadavg()],
                    **_versions()},
        "workload": {"plan": "benchmarks/synthetic.py: 5 jobs (ingest, clean, trailing 7-day "
                             "window, rollup, report), 3 dims (10 regions x 10 products x "
                             "date); every dataset over a date range",
                     "dagster": "benchmarks/daily.py: 3 chained daily jobs"},
    }
    sections = {
        "plan_throughput": lambda: plan_throughput(size["plan"]),
        "peak_memory": lambda: peak_memory(doc["plan_throughput"], size["peak"]),
        "null_build": lambda: null_build(size["null"]),
        "dagster": lambda: side_by_side(size["days"]),
        "catalog": lambda: catalog_figures(size["status"], size["single"]),
        "definitions_load": lambda: definitions_load(size["dbt_models"], size["dbt_parse"]),
        "parallel": lambda: parallel_build(size["parallel_days"], size["parallel_dagster"]),
    }
    if mode == "full":  # dbt starts take tens of seconds each: full mode only
        if importlib.util.find_spec("benchmarks.dbt_overhead") is not None:
            from . import dbt_overhead

            sections["dbt_overhead"] = lambda: dbt_overhead.run(quick=False)
        sections["daemon_backfill"] = lambda: daemon_side_by_side(size["daemon_days"])
        sections["celery"] = lambda: celery_scale_out(size["celery_days"])
        sections["demo"] = demo_timings
    if only:
        unknown = sorted(set(only) - set(sections))
        if unknown:
            raise SystemExit(f"unknown section(s) {', '.join(unknown)}; the {mode} mode has: "
                             f"{', '.join(sections)}")
        sections = {k: v for k, v in sections.items() if k in only}
        doc["command"] += f" --only {','.join(only)}"
    doc["section_seconds"] = {}
    for name, fn in sections.items():
        t0 = time.perf_counter()
        try:
            doc[name] = fn()
        except Exception as exc:  # noqa: BLE001 - keep the other sections' figures
            doc.setdefault("section_errors", {})[name] = f"{type(exc).__name__}: {exc}"
            log(f"section {name} failed: {type(exc).__name__}: {exc}")
        doc["section_seconds"][name] = rnd(time.perf_counter() - t0, 1)
        _save(doc, output)
    try:
        doc["goals"] = goals.judge(doc)
    except (KeyError, TypeError) as exc:  # a failed section leaves goals unjudgeable
        doc["goals"] = []
        doc["goals_error"] = f"{type(exc).__name__}: {exc} (see section_errors)"
    doc["seconds"] = rnd(time.perf_counter() - started, 1)
    return doc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="small workloads (about a minute or two); goals set at larger "
                             "workloads are reported as not judged")
    parser.add_argument("--output", help="also write the JSON document to this file")
    parser.add_argument("--only", help="comma-separated sections to run (e.g. null_build,catalog)")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()] if args.only else None
    doc = run("quick" if args.quick else "full", args.output, only)
    _save(doc, args.output)
    try:
        print(goals.table(doc), file=sys.stderr)
    except (KeyError, TypeError, ValueError) as exc:
        log(f"no table: {type(exc).__name__}: {exc}")
    log(f"done in {doc['seconds']} s")
    print(json.dumps(doc, indent=2))
    if doc.get("section_errors"):
        log(f"failed sections: {', '.join(doc['section_errors'])}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
