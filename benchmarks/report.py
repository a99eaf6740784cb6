"""Markdown tables of a benchmark JSON document, for the README and docs/performance.md:

    python -m benchmarks --output bench.json && python -m benchmarks.report bench.json
"""

from __future__ import annotations

import json
import sys


def _met(met) -> str:
    return {True: "met", False: "**missed**", None: "not judged"}[met]


def figures(doc: dict) -> str:
    rows = ["| figure | workload | result |", "|---|---|---|"]
    for p in doc["plan_throughput"]:
        if "skipped" in p:
            rows.append(f"| plan ({p['catalog']}) | {p['requested_refs']:,} refs | skipped |")
            continue
        rows.append(f"| plan throughput ({p['catalog']}) | {p['requested_refs']:,} requested "
                    f"refs ({p['planned_refs']:,} planned, {p['configs']:,} configs) | "
                    f"{p['refs_per_s']:,.0f} refs/s ({p['seconds']:.2f} s) |")
    pm = doc["peak_memory"]
    rows.append(f"| peak RSS of planning | {pm['requested_refs']:,} refs | "
                f"{pm['peak_rss_mb']:,.0f} MB |")
    nb = doc["null_build"]
    rows.append(f"| null build vs full build (sqlite) | {nb['requested_refs']:,} refs, "
                f"{nb['partitions_built']:,} partitions | {nb['null_build_s']:.2f} s vs "
                f"{nb['full_build_s']:.1f} s: {nb['ratio_full_over_null']:,.0f}x |")
    dg = doc["dagster"]
    names = {"core": "databuild, no Dagster", "databuild_dagster": "`databuild build --dagster`",
             "dagster_per_partition_runs": "Dagster per-partition runs",
             "dagster_single_run_backfill": "Dagster single-run backfill (per job)"}
    for way, label in names.items():
        f = dg[way]
        over = (f", overhead {f['overhead_ms_per_partition']:.1f} ms/partition"
                if way != "core" else "")
        rows.append(f"| {label} | {dg['days']} days x 3 jobs = {dg['partitions']:,} "
                    f"partitions, {f['runs']} runs | {f['seconds']:.1f} s "
                    f"({f['ms_per_partition']:.1f} ms/partition{over}) |")
    for c in doc["catalog"]:
        if "skipped" in c:
            rows.append(f"| catalog ({c['catalog']}) | - | skipped |")
            continue
        w, one, st = (c["manifest_writes_batched"], c["manifest_commits_one_per_transaction"],
                      c["status"])
        rows.append(f"| manifest writes, batched ({c['catalog']}) | {w['manifests']:,} in "
                    f"batches of {w['batch']:,} | {w['per_s']:,.0f}/s |")
        rows.append(f"| manifest commits, one per transaction ({c['catalog']}) | "
                    f"{one['manifests']:,} | {one['per_s']:,.0f}/s |")
        rows.append(f"| status/staleness ({c['catalog']}) | {st['partitions']:,} partitions | "
                    f"{st['seconds']:.2f} s (second call {st['seconds_second_call']:.2f} s) |")
    ex, dbt = doc["definitions_load"]["example"], doc["definitions_load"]["dbt"]
    rows.append(f"| definitions load: example graph via the adapter | {ex['graph_assets']} "
                f"assets | {ex['graph_definitions_s']:.2f} s |")
    rows.append(f"| definitions load: code location `databuild_assets.definitions` | "
                f"{ex['code_location_assets']} assets, {ex['code_location_jobs']} jobs | "
                f"{ex['code_location_definitions_s']:.1f} s |")
    how = "dbt parse" if dbt["manifest_generation_s"] is not None else "synthetic manifest"
    rows.append(f"| definitions load: dagster-dbt | {dbt['models']:,} models ({how}) | "
                f"{dbt['load_definitions_s']:.2f} s |")
    p = doc.get("parallel")
    if p and p.get("supported"):
        rows.append(f"| parallel build, jobs=1 vs jobs=2 | {p['workload']} | {p['jobs_1_s']:.1f} s "
                    f"vs {p['jobs_2_s']:.1f} s: {p['speedup_2_over_1']:.2f}x |")
        if "dagster_speedup_2_over_1" in p:
            rows.append(f"| build --dagster, 1 vs 2 runs in flight | same, {p['dagster_runs']} runs "
                        f"| {p['dagster_jobs_1_s']:.1f} s vs {p['dagster_jobs_2_s']:.1f} s: "
                        f"{p['dagster_speedup_2_over_1']:.2f}x |")
    elif p:
        rows.append(f"| parallel build | {p['workload']} | not supported: {p['note']} |")
    d = doc.get("daemon_backfill")
    if d:
        rows.append(f"| Dagster default backfill via dagster-daemon | {d['days']} days x 3 jobs = "
                    f"{d['partitions']} partitions, {d['dagster_daemon_backfill']['runs']} runs | "
                    f"{d['dagster_daemon_backfill']['seconds']:.1f} s |")
        rows.append(f"| `databuild build --dagster` (CLI process) | same, 3 runs | "
                    f"{d['databuild_build_dagster']['seconds']:.1f} s: "
                    f"{d['ratio_daemon_backfill_over_build_dagster']:,.1f}x faster |")
    c = doc.get("celery")
    if c and "skipped" not in c:
        for k, label in (("one_build", "one build --dagster"), ("two_builds", "two concurrent "
                                                                 "builds")):
            rows.append(f"| Celery executor, {label} | {c['days']} days x 3 jobs | 1 worker "
                        f"{c[f'{k}_1_workers']['seconds']:.1f} s, 2 workers "
                        f"{c[f'{k}_2_workers']['seconds']:.1f} s: "
                        f"{c[f'speedup_{k}_2_over_1']:.2f}x |")
    elif c:
        rows.append(f"| Celery executor | - | skipped: {c['skipped']} |")
    dm = doc.get("demo")
    if dm:
        for k, label in (("first_run_fresh_connectors", "first demo, installing the connector"),
                         ("first_run_cached_connectors", "first demo, connector cached"),
                         ("second_run", "second demo (null build)"),
                         ("add_one_day", "one more day and its report")):
            f = dm[k]
            phases = ", ".join(f"{a} {b:.1f} s" for a, b in f.get("phases", {}).items())
            rows.append(f"| {label} | 14 days of podcast reviews | {f['seconds']:.1f} s"
                        + (f" ({phases})" if phases else "") + " |")
    return "\n".join(rows)


def goals(doc: dict) -> str:
    rows = ["| # | goal | measured | workload | |", "|---|---|---|---|---|"]
    for g in doc["goals"]:
        m = g["measured"]
        if isinstance(m, dict):
            m = ", ".join(f"{k}: {v:,}" if isinstance(v, (int, float)) else f"{k}: {v}"
                          for k, v in m.items())
        rows.append(f"| {g.get('id', '')} | {g['goal']} | {m} | {g['workload']} | "
                    f"{_met(g['met'])} |")
    return "\n".join(rows)


def main(path: str) -> None:
    with open(path) as f:
        doc = json.load(f)
    print(f"`{doc['command']}` ({doc['started_at']}, {doc['machine']['cpus']} CPUs, "
          f"load average {doc['machine']['load_average_at_start'][0]}, "
          f"dagster {doc['machine']['dagster']}, {doc['seconds']:.0f} s)\n")
    print(figures(doc) + "\n\n" + goals(doc))


if __name__ == "__main__":
    main(sys.argv[1])
