"""Schedules of partitioned asset jobs, from their partitions definitions.

A databuild job opts in with a ``schedule`` attribute: ``True`` (the partitioning's own
cadence, daily at midnight) or a dict of ``build_schedule_from_partitioned_job`` keywords
(``hour_of_day``, ``minute_of_hour``, ...), or ``cron_schedule`` for a cadence of its own
(an hourly re-check of yesterday, say). Each tick requests the day that just ended, its
data interval (every static key of it, for multi-partitions): databuild's daily partitions
include the current day (``end_offset=1``), so Dagster's default "latest partition" would
build a day whose data has not landed. The asset job skips what is already live and fresh.
Schedules start stopped unless the dict says ``default_status: running``.
"""

from __future__ import annotations

import datetime as dt
import itertools

import dagster as dg

from ..core import Graph
from ..core.errors import DefinitionError

KEYWORDS = {"hour_of_day", "minute_of_hour", "day_of_week", "day_of_month", "default_status",
            "cron_schedule"}


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
        out.append(_interval_schedule(job, asset_job, opts, status))
    return out


def tick_partition_keys(pdef, tick: dt.datetime) -> list[str]:
    """The partition keys of the day before ``tick`` (every static key, for multi)."""
    day = (tick - dt.timedelta(days=1)).date().isoformat()
    if not isinstance(pdef, dg.MultiPartitionsDefinition):
        return [day]
    dims = [[day] if isinstance(d.partitions_def, dg.TimeWindowPartitionsDefinition)
            else d.partitions_def.get_partition_keys() for d in pdef.partitions_defs]
    names = [d.name for d in pdef.partitions_defs]
    return [dg.MultiPartitionKey(dict(zip(names, combo, strict=True)))
            for combo in itertools.product(*dims)]


def _interval_schedule(job, asset_job, opts: dict, status: str) -> dg.ScheduleDefinition:
    from .assets import _partitions_for

    pdef = _partitions_for(job)
    time_dim = pdef if isinstance(pdef, dg.TimeWindowPartitionsDefinition) else next(
        (d.partitions_def for d in getattr(pdef, "partitions_defs", [])
         if isinstance(d.partitions_def, dg.TimeWindowPartitionsDefinition)), None)
    if time_dim is None:
        raise DefinitionError(f"job {job.label!r} declares a schedule but its partitions have "
                              "no date dimension; schedule a want instead (sensors.CronWant)")

    @dg.schedule(name=f"{job.label}__schedule", job=asset_job,
                 cron_schedule=opts.get("cron_schedule") or time_dim.get_cron_schedule(
                     opts.get("minute_of_hour"), opts.get("hour_of_day"), opts.get("day_of_week"),
                     opts.get("day_of_month")), execution_timezone=time_dim.timezone,
                 default_status=dg.DefaultScheduleStatus[status],
                 description=f"Builds the day that just ended of {job.label}'s outputs.")
    def _schedule(context: dg.ScheduleEvaluationContext):
        for key in tick_partition_keys(pdef, context.scheduled_execution_time):
            yield dg.RunRequest(run_key=str(key), partition_key=key)

    return _schedule
