"""Schedules of partitioned asset jobs, from their partitions definitions.

A databuild job opts in with a ``schedule`` attribute: ``True`` (the partitioning's own
cadence: a daily partition is requested just after its day ends) or a dict of
``build_schedule_from_partitioned_job`` keywords (``hour_of_day``, ``minute_of_hour``, ...).
Each tick requests the tick's partition (every static key of it, for multi-partitions);
Dagster launches the asset job for it, which skips what is already live and fresh.
Schedules start stopped unless the dict says ``default_status: running``.
"""

from __future__ import annotations

import dagster as dg

from ..core import Graph
from ..core.errors import DefinitionError

KEYWORDS = {"hour_of_day", "minute_of_hour", "day_of_week", "day_of_month", "description",
            "default_status"}


def asset_job_schedules(graph: Graph, jobs) -> list[dg.ScheduleDefinition]:
    by_name = {j.name: j for j in jobs}
    out = []
    for job in graph.jobs:
        spec = getattr(job, "schedule", None)
        if not spec:
            continue
        opts = {} if spec is True else dict(spec)
        unknown = set(opts) - KEYWORDS
        if unknown:
            raise DefinitionError(f"job {job.label!r}: unknown schedule option(s) "
                                  f"{sorted(unknown)}; use {sorted(KEYWORDS)}")
        asset_job = by_name.get(f"{job.label}__job")
        if asset_job is None:
            raise DefinitionError(f"job {job.label!r} declares a schedule but has no asset job")
        status = str(opts.pop("default_status", "stopped")).upper()
        out.append(dg.build_schedule_from_partitioned_job(
            asset_job, name=f"{job.label}__schedule",
            default_status=dg.DefaultScheduleStatus[status], **opts))
    return out
