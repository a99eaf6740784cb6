"""Prints the shape of the code location (`databuild_assets.definitions`) as JSON: asset keys,
partitions definitions, the partition mapping of every dependency, asset checks, jobs,
schedules and sensors. Run by tests/integration/test_code_location_snapshot.py in the code
location's environment, as Dagster loads it. Descriptions and paths are left out: the snapshot
is about the graph's shape, not wording or where the test put its files."""

from __future__ import annotations

import json

import dagster as dg


def partitions(pdef) -> dict | None:
    """A partitions definition: its type and what fixes its keys."""
    if pdef is None:
        return None
    out: dict = {"type": type(pdef).__name__}
    if isinstance(pdef, dg.TimeWindowPartitionsDefinition):
        out.update(cron=pdef.cron_schedule, fmt=pdef.fmt, timezone=pdef.timezone,
                   start=pdef.start.strftime(pdef.fmt),
                   end=pdef.end.strftime(pdef.fmt) if pdef.end else None)
    elif isinstance(pdef, dg.StaticPartitionsDefinition):
        out["keys"] = list(pdef.get_partition_keys())
    elif isinstance(pdef, dg.MultiPartitionsDefinition):
        out["dimensions"] = {d.name: partitions(d.partitions_def) for d in pdef.partitions_defs}
    elif isinstance(pdef, dg.DynamicPartitionsDefinition):
        out["name"] = pdef.name
    return out


def snapshot(defs: dg.Definitions) -> dict:
    repo = defs.get_repository_def()
    graph = repo.asset_graph
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "partitions": partitions(node.partitions_def),
            "deps": {p.to_user_string(): repr(graph.get_partition_mapping(key, p))
                     for p in sorted(node.parent_keys, key=lambda k: k.to_user_string())},
        }
    return {
        "assets": assets,
        "asset_checks": sorted(f"{c.asset_key.to_user_string()}:{c.name}"
                               for c in graph.asset_check_keys),
        "jobs": sorted(j.name for j in repo.get_all_jobs() if not j.name.startswith("__")),
        "schedules": {s.name: {"cron": s.cron_schedule, "job": s.job_name,
                               "timezone": s.execution_timezone,
                               "default_status": s.default_status.value}
                      for s in sorted(repo.schedule_defs, key=lambda s: s.name)},
        "sensors": {s.name: {"jobs": sorted(t.job_name for t in s.targets),
                             "minimum_interval_seconds": s.minimum_interval_seconds,
                             "default_status": s.default_status.value}
                    for s in sorted(repo.sensor_defs, key=lambda s: s.name)},
    }


if __name__ == "__main__":
    from databuild_assets.definitions import defs

    print(json.dumps(snapshot(defs()), sort_keys=True))
