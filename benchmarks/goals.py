"""The goals of the performance issue (#14), judged against the measured figures, and the
readable table.

A goal is only judged at (or above) the workload it names; a smaller workload (``--quick``)
or a section the mode does not run reports ``met: null`` with the reason, never a pass.
Each goal carries its number in the issue (``id``: "1", "3-sqlite", ...)."""

from __future__ import annotations

G1_OVERHEAD_MS, G1_DAYS = 10.0, 365
G2_RATIO, G2_DAYS = 30.0, 30
G3_STATUS_S, G3_SIZE = {"sqlite": 1.0, "postgresql": 1.5}, 100_000
G4_PLAN_RATE, G4_PLAN_SIZE, G4_PEAK_MB, G4_PEAK_SIZE = 100_000, 100_000, 1024.0, 1_000_000
G5_NULL_S, G5_RATIO, G5_SIZE = 0.2, 200.0, 10_000
G6_SPEEDUP = 1.8
G7_FIRST_S, G7_SECOND_S, G7_ADD_DAY_S = 240.0, 1.0, 30.0


def _goal(gid: str, goal: str, measured, met, workload: str, note: str = "") -> dict:
    out = {"id": gid, "goal": goal, "measured": measured, "met": met, "workload": workload}
    if note:
        out["note"] = note
    return out


def _small(size: int, needed: int, unit: str = "") -> str:
    return f"measured at {size:,}{unit}, the goal is set at {needed:,}{unit}: not judged"


def _not_run(doc: dict, section: str) -> str | None:
    if section not in doc:
        return f"the {section} section runs in the full mode only (python -m benchmarks)"
    if "skipped" in doc[section]:
        return doc[section]["skipped"]
    return None


def _g1(doc: dict) -> dict:
    dg = doc["dagster"]
    ours, single = dg["databuild_dagster"], dg["dagster_single_run_backfill"]
    measured = {"overhead_ms_per_partition": ours["overhead_ms_per_partition"],
                "seconds": ours["seconds"], "single_run_backfill_seconds": single["seconds"]}
    if dg["days"] >= G1_DAYS:
        met, note = (ours["overhead_ms_per_partition"] <= G1_OVERHEAD_MS
                     and ours["seconds"] < single["seconds"]), ""
    else:
        met, note = None, _small(dg["days"], G1_DAYS, " days")
    return _goal("1", f"build --dagster overhead <= {G1_OVERHEAD_MS:g} ms/partition and faster "
                 "than Dagster's single-run backfill of the same assets", measured, met,
                 f"{dg['days']} days x 3 jobs = {dg['partitions']} partitions", note)


def _g2(doc: dict) -> dict:
    why = _not_run(doc, "daemon_backfill")
    goal = (f"build --dagster >= {G2_RATIO:g}x faster end to end than Dagster's default "
            "backfill launched by dagster-daemon (one run per partition, a process each)")
    if why:
        return _goal("2", goal, None, None, f"{G2_DAYS} days x 3 jobs", why)
    d = doc["daemon_backfill"]
    measured = {"daemon_backfill_s": d["dagster_daemon_backfill"]["seconds"],
                "build_dagster_s": d["databuild_build_dagster"]["seconds"],
                "ratio": d["ratio_daemon_backfill_over_build_dagster"]}
    met = d["ratio_daemon_backfill_over_build_dagster"] >= G2_RATIO if d["days"] >= G2_DAYS \
        else None
    return _goal("2", goal, measured, met, f"{d['days']} days x 3 jobs = {d['partitions']} "
                 "partitions", "" if met is not None else _small(d["days"], G2_DAYS, " days"))


def _g3(doc: dict) -> list[dict]:
    out = []
    for c in doc["catalog"]:
        limit = G3_STATUS_S[c["catalog"]]
        goal = f"status of {G3_SIZE:,} partitions <= {limit:g} s ({c['catalog']})"
        if "skipped" in c:
            out.append(_goal(f"3-{c['catalog']}", goal, None, None, "-", c["skipped"]))
            continue
        st = c["status"]
        ok = st["partitions"] >= G3_SIZE * 0.99
        out.append(_goal(f"3-{c['catalog']}", goal, st["seconds"],
                         (st["seconds"] <= limit) if ok else None,
                         f"{st['partitions']:,} partitions, first call on a fresh connection",
                         "" if ok else _small(st["partitions"], G3_SIZE)))
    return out


def _g4(doc: dict) -> list[dict]:
    plans = [p for p in doc["plan_throughput"] if p["catalog"] == "sqlite" and "skipped" not in p]
    rates = {str(p["requested_refs"]): p["refs_per_s"] for p in plans}
    at = [p for p in plans if p["requested_refs"] >= G4_PLAN_SIZE * 0.99]
    biggest = max((p["requested_refs"] for p in plans), default=0)
    plan = _goal("4-plan", f"plan >= {G4_PLAN_RATE:,} refs/s at {G4_PLAN_SIZE:,} refs on SQLite",
                 rates, (min(p["refs_per_s"] for p in at) >= G4_PLAN_RATE) if at else None,
                 "requested refs: refs/s, empty catalog",
                 "" if at else _small(biggest, G4_PLAN_SIZE))
    pm = doc["peak_memory"]
    ok = pm["requested_refs"] >= G4_PEAK_SIZE * 0.99
    peak = _goal("4-memory", f"plan of {G4_PEAK_SIZE:,} refs <= {G4_PEAK_MB / 1024:g} GB peak RSS",
                 pm["peak_rss_mb"], (pm["peak_rss_mb"] <= G4_PEAK_MB) if ok else None,
                 f"{pm['requested_refs']:,} requested refs",
                 "" if ok else _small(pm["requested_refs"], G4_PEAK_SIZE))
    return [plan, peak]


def _g5(doc: dict) -> dict:
    nb = doc["null_build"]
    if nb["requested_refs"] >= G5_SIZE * 0.99:
        met, note = (nb["null_build_s"] <= G5_NULL_S
                     and nb["ratio_full_over_null"] >= G5_RATIO), ""
    else:
        met, note = None, _small(nb["requested_refs"], G5_SIZE)
    return _goal("5", f"null build of {G5_SIZE:,} partitions <= {G5_NULL_S:g} s and "
                 f">= {G5_RATIO:g}x faster than its full build",
                 {"null_build_s": nb["null_build_s"],
                  "ratio_full_over_null": nb["ratio_full_over_null"]}, met,
                 f"{nb['requested_refs']:,} requested refs", note)


def _g6(doc: dict) -> dict:
    p = doc["parallel"]
    goal = f"build --jobs 2 >= {G6_SPEEDUP:g}x faster than --jobs 1 on I/O-bound jobs"
    if not p["supported"]:
        return _goal("6", goal, None, False, p["workload"], p["note"])
    measured = {"jobs_1_s": p["jobs_1_s"], "jobs_2_s": p["jobs_2_s"],
                "speedup": p["speedup_2_over_1"]}
    note = ""
    if "dagster_speedup_2_over_1" in p:  # build --dagster: 1 run in flight against 2
        measured |= {"dagster_jobs_1_s": p["dagster_jobs_1_s"],
                     "dagster_jobs_2_s": p["dagster_jobs_2_s"],
                     "dagster_speedup": p["dagster_speedup_2_over_1"]}
        note = (f"build --dagster --jobs 2: {p['dagster_speedup_2_over_1']}x over one run in "
                "flight (reported, not part of the goal's threshold)")
    return _goal("6", goal, measured, p["speedup_2_over_1"] >= G6_SPEEDUP, p["workload"], note)


def _g7(doc: dict) -> list[dict]:
    why = _not_run(doc, "demo")
    if why:
        return [_goal("7", f"first demo <= {G7_FIRST_S / 60:g} min with the connector install, "
                      f"second <= {G7_SECOND_S:g} s, one more day <= {G7_ADD_DAY_S:g} s",
                      None, None, "databuild demo", why)]
    d = doc["demo"]
    wl = "databuild demo (14 days of podcast reviews), fresh state folder"
    return [
        _goal("7-first", f"first demo including the connector install <= {G7_FIRST_S:g} s",
              {"seconds": d["first_run_fresh_connectors"]["seconds"],
               "with_connector_cache_s": d["first_run_cached_connectors"]["seconds"]},
              d["first_run_fresh_connectors"]["seconds"] <= G7_FIRST_S, wl,
              "the project venv install (make install) is not included; the machine is shared"),
        _goal("7-second", f"second demo (null build) <= {G7_SECOND_S:g} s",
              {"process_s": d["second_run"]["seconds"],
               "build_s": d["second_run"].get("build_s")},
              d["second_run"]["seconds"] <= G7_SECOND_S, wl,
              "judged on the wall time of the databuild demo process (interpreter start and "
              "imports included); build_s is the null build itself"),
        _goal("7-add-day", f"one more day and its report <= {G7_ADD_DAY_S:g} s",
              d["add_one_day"]["seconds"], d["add_one_day"]["seconds"] <= G7_ADD_DAY_S, wl),
    ]


def _g8(doc: dict) -> dict:
    why = _not_run(doc, "celery")
    goal = "Celery executor on RabbitMQ with two workers builds a three-wave plan"
    if why:
        return _goal("8", goal, None, None, "benchmarks.daily through Celery", why)
    c = doc["celery"]
    measured = {k: c[k]["seconds"] for k in ("one_build_1_workers", "one_build_2_workers",
                                             "two_builds_1_workers", "two_builds_2_workers")}
    measured.update(speedup_one_build=c["speedup_one_build_2_over_1"],
                    speedup_two_builds=c["speedup_two_builds_2_over_1"])
    return _goal("8", goal, measured, True, f"{c['days']} days x 3 jobs (3 waves), 1 vs 2 "
                 "workers", "met = every partition built through the workers (checked); "
                 "the speedups are reported, the issue sets no target for them")


def judge(doc: dict) -> list[dict]:
    goals = [_g1(doc), _g2(doc), *_g3(doc), *_g4(doc), _g5(doc), _g6(doc), *_g7(doc), _g8(doc)]
    extra = doc.get("dbt_overhead")
    if isinstance(extra, dict) and "met" in extra:
        goals.append(_goal("7-dbt", f"{extra.get('figure', 'dbt step overhead')} "
                                    f"{extra.get('goal', '')}".strip(),
                           extra.get("measured", extra.get("ratio")), extra["met"],
                           str(extra.get("workload") or extra.get("project")
                               or "benchmarks/dbt_overhead.py"), str(extra.get("note", ""))))
    return goals


def _rows(doc: dict) -> list[tuple[str, str, str]]:
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
    p = doc["parallel"]
    if p["supported"]:
        rows.append((f"parallel build, {p['configs']} I/O-bound configs", f"{p['jobs_2_s']} s",
                     f"jobs=1 {p['jobs_1_s']} s: {p['speedup_2_over_1']}x"))
    else:
        rows.append(("parallel build", "n/a", p["note"]))
    if "daemon_backfill" in doc:
        d = doc["daemon_backfill"]
        rows.append((f"dagster-daemon backfill, {d['partitions']} partitions",
                     f"{d['dagster_daemon_backfill']['seconds']} s",
                     f"{d['dagster_daemon_backfill']['runs']} runs; build --dagster "
                     f"{d['databuild_build_dagster']['seconds']} s: "
                     f"{d['ratio_daemon_backfill_over_build_dagster']}x"))
    if "celery" in doc and "skipped" not in doc["celery"]:
        c = doc["celery"]
        for k in ("one_build", "two_builds"):
            rows.append((f"celery {k.replace('_', ' ')}, {c['days']} days", 
                         f"{c[f'{k}_2_workers']['seconds']} s",
                         f"1 worker {c[f'{k}_1_workers']['seconds']} s: "
                         f"{c[f'speedup_{k}_2_over_1']}x"))
    if "demo" in doc:
        d = doc["demo"]
        for k in ("first_run_fresh_connectors", "first_run_cached_connectors", "second_run",
                  "add_one_day"):
            rows.append((f"demo: {k.replace('_', ' ')}", f"{d[k]['seconds']} s",
                         ", ".join(f"{a} {b} s" for a, b in d[k].get("phases", {}).items())))
    return rows


def table(doc: dict) -> str:
    rows = _rows(doc)
    w1 = max(len(r[0]) for r in rows)
    w2 = max(len(r[1]) for r in rows)
    lines = [f"{a:<{w1}}  {b:>{w2}}  {c}" for a, b, c in rows]
    lines.append("")
    for g in doc["goals"]:
        mark = {True: "MET ", False: "MISS", None: "n/a "}[g["met"]]
        lines.append(f"[{mark}] goal {g['id']}: {g['goal']}: {g['measured']}"
                     + (f"  ({g['note']})" if g.get("note") else ""))
    return "\n".join(lines)
