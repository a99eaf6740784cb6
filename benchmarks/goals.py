"""The goals the issue sets, judged against the measured figures, and the readable table.

A goal is only judged at (or above) the workload it names; a smaller workload (``--quick``)
reports ``met: null`` with the reason, never a pass."""

from __future__ import annotations

GOAL_PLAN_RATE = 50_000
GOAL_NULL_S, GOAL_NULL_RATIO, GOAL_NULL_SIZE = 1.0, 100.0, 10_000
GOAL_OVERHEAD_MS, GOAL_OVERHEAD_RATIO, GOAL_DAYS = 10.0, 30.0, 365
GOAL_STATUS_S, GOAL_STATUS_SIZE = 2.0, 100_000
GOAL_PEAK_MB, GOAL_PEAK_SIZE = 1.5 * 1024, 1_000_000


def _goal(goal: str, measured, met, workload: str, note: str = "") -> dict:
    out = {"goal": goal, "measured": measured, "met": met, "workload": workload}
    if note:
        out["note"] = note
    return out


def _small(size: int, needed: int) -> str:
    return f"measured at {size:,}, the goal is set at {needed:,}: not judged"


def judge(doc: dict) -> list[dict]:
    goals = []
    plans = [p for p in doc["plan_throughput"] if p["catalog"] == "sqlite" and "skipped" not in p]
    rates = {str(p["requested_refs"]): p["refs_per_s"] for p in plans}
    goals.append(_goal(f"plan >= {GOAL_PLAN_RATE:,} refs/s on SQLite", rates,
                       all(r >= GOAL_PLAN_RATE for r in rates.values()) if rates else None,
                       "requested refs: refs/s, empty catalog"))
    nb = doc["null_build"]
    if nb["requested_refs"] >= GOAL_NULL_SIZE * 0.99:
        met, note = (nb["null_build_s"] <= GOAL_NULL_S
                     and nb["ratio_full_over_null"] >= GOAL_NULL_RATIO), ""
    else:
        met, note = None, _small(nb["requested_refs"], GOAL_NULL_SIZE)
    goals.append(_goal(f"null build of {GOAL_NULL_SIZE:,} partitions <= {GOAL_NULL_S:g} s and "
                       f">= {GOAL_NULL_RATIO:g}x faster than its full build",
                       {"null_build_s": nb["null_build_s"],
                        "ratio_full_over_null": nb["ratio_full_over_null"]}, met,
                       f"{nb['requested_refs']:,} requested refs", note))
    dg = doc["dagster"]
    ours = dg["databuild_dagster"]["overhead_ms_per_partition"]
    ratio = dg["ratios"]["per_partition_runs_overhead_over_databuild_dagster_overhead"]
    if dg["days"] >= GOAL_DAYS:
        met, note = ours <= GOAL_OVERHEAD_MS and ratio >= GOAL_OVERHEAD_RATIO, ""
    else:
        met, note = None, _small(dg["days"], GOAL_DAYS) + " (days)"
    goals.append(_goal(f"per-partition overhead through Dagster <= {GOAL_OVERHEAD_MS:g} ms and "
                       f">= {GOAL_OVERHEAD_RATIO:g}x less than Dagster per-partition runs",
                       {"overhead_ms_per_partition": ours, "ratio": ratio}, met,
                       f"{dg['days']} days x 3 jobs = {dg['partitions']} partitions", note))
    for c in doc["catalog"]:
        if "skipped" in c:
            goals.append(_goal(f"status of {GOAL_STATUS_SIZE:,} partitions <= {GOAL_STATUS_S:g} s "
                               f"({c['catalog']})", None, None, "-", c["skipped"]))
            continue
        st = c["status"]
        ok = st["partitions"] >= GOAL_STATUS_SIZE * 0.99
        goals.append(_goal(f"status of {GOAL_STATUS_SIZE:,} partitions <= {GOAL_STATUS_S:g} s "
                           f"({c['catalog']})", st["seconds"],
                           (st["seconds"] <= GOAL_STATUS_S) if ok else None,
                           f"{st['partitions']:,} partitions, first call on a fresh connection",
                           "" if ok else _small(st["partitions"], GOAL_STATUS_SIZE)))
    pm = doc["peak_memory"]
    ok = pm["requested_refs"] >= GOAL_PEAK_SIZE * 0.99
    goals.append(_goal(f"plan of {GOAL_PEAK_SIZE:,} refs <= {GOAL_PEAK_MB / 1024:g} GB peak RSS",
                       pm["peak_rss_mb"], (pm["peak_rss_mb"] <= GOAL_PEAK_MB) if ok else None,
                       f"{pm['requested_refs']:,} requested refs",
                       "" if ok else _small(pm["requested_refs"], GOAL_PEAK_SIZE)))
    return goals


def table(doc: dict) -> str:
    rows: list[tuple[str, str, str]] = []
    for p in doc["plan_throughput"]:
        if "skipped" in p:
            rows.append((f"plan {p['requested_refs']:,} refs ({p['catalog']})", "skipped", ""))
            continue
        rows.append((f"plan {p['requested_refs']:,} refs ({p['catalog']})",
                     f"{p['refs_per_s']:,.0f} refs/s",
                     f"{p['seconds']} s, {p['configs']:,} configs, peak {p['peak_rss_mb']:,.0f} MB"))
    nb = doc["null_build"]
    rows.append((f"null build, {nb['requested_refs']:,} refs (sqlite)", f"{nb['null_build_s']} s",
                 f"full build {nb['full_build_s']} s ({nb['partitions_built']:,} partitions): "
                 f"{nb['ratio_full_over_null']}x"))
    dg = doc["dagster"]
    for way in ("core", "databuild_dagster", "dagster_per_partition_runs",
                "dagster_single_run_backfill"):
        f = dg[way]
        extra = f"overhead {f['overhead_ms_per_partition']} ms/partition" if way != "core" else ""
        rows.append((f"{way}, {dg['partitions']} partitions", f"{f['seconds']} s",
                     f"{f['runs']} runs, {f['ms_per_partition']} ms/partition {extra}".strip()))
    for c in doc["catalog"]:
        if "skipped" in c:
            rows.append((f"catalog ({c['catalog']})", "skipped", c["skipped"][:60]))
            continue
        w, one, st = (c["manifest_writes_batched"], c["manifest_commits_one_per_transaction"],
                      c["status"])
        rows.append((f"manifest writes, batch {w['batch']} ({c['catalog']})",
                     f"{w['per_s']:,.0f}/s", f"{w['manifests']:,} manifests"))
        rows.append((f"manifest commits, 1 per tx ({c['catalog']})", f"{one['per_s']:,.0f}/s",
                     f"{one['manifests']:,} manifests"))
        rows.append((f"status {st['partitions']:,} partitions ({c['catalog']})",
                     f"{st['seconds']} s", f"second call {st['seconds_second_call']} s"))
    ex, dbt = doc["definitions_load"]["example"], doc["definitions_load"]["dbt"]
    rows.append(("definitions: example graph (adapter)", f"{ex['graph_definitions_s']} s",
                 f"{ex['graph_assets']} assets"))
    rows.append(("definitions: code location", f"{ex['code_location_definitions_s']} s",
                 f"{ex['code_location_assets']} assets, {ex['code_location_jobs']} jobs"))
    rows.append((f"definitions: dagster-dbt, {dbt['models']:,} models",
                 f"{dbt['load_definitions_s']} s", dbt["manifest"][:60]))
    pm = doc["peak_memory"]
    rows.append((f"peak RSS planning {pm['requested_refs']:,} refs", f"{pm['peak_rss_mb']:,.0f} MB",
                 f"before planning {pm['rss_before_plan_mb']:,.0f} MB"))
    w1 = max(len(r[0]) for r in rows)
    w2 = max(len(r[1]) for r in rows)
    lines = [f"{a:<{w1}}  {b:>{w2}}  {c}" for a, b, c in rows]
    lines.append("")
    for g in doc["goals"]:
        mark = {True: "MET ", False: "MISS", None: "n/a "}[g["met"]]
        lines.append(f"[{mark}] {g['goal']}: {g['measured']}"
                     + (f"  ({g['note']})" if g.get("note") else ""))
    return "\n".join(lines)
