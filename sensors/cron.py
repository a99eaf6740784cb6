"""Cron wants: a schedule that, on each tick, records a want for refs computed from the
tick time (e.g. yesterday's ``trailing_revenue/date=...`` every morning at 06:00). The wants
sensor then builds it, retries it and reports its SLA like any other want.

The schedule targets the asset job producing the first ref (so the UI shows it next to that
job), records the want idempotently (the want id derives from the schedule and tick) and
returns a skip reason naming the want: the runs come from the wants sensor, batched with
everything else that is wanted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from databuild_assets.core.names import FILE, safe_name


@dataclass(frozen=True)
class CronWant:
    name: str
    cron: str  # e.g. "0 6 * * *"
    refs: Sequence[str] | Callable[[dt.datetime], list[str]]  # templates: {date}, {tick_date}
    offset_days: int = -1  # {date} = the tick's date + offset (yesterday by default)
    ttl: str | float | None = "2d"
    sla: str | float | None = None  # counted from the tick time
    timezone: str = "UTC"
    comment: str = ""


def cron_refs(spec: CronWant, tick: dt.datetime) -> list[str]:
    """The refs a tick wants. Pure."""
    local = tick.astimezone(ZoneInfo(spec.timezone)) if tick.tzinfo else tick
    if callable(spec.refs):
        return sorted(set(spec.refs(local)))
    day = (local.date() + dt.timedelta(days=spec.offset_days)).isoformat()
    return sorted({t.format(date=day, tick_date=local.date().isoformat()) for t in spec.refs})


def cron_want_id(spec: CronWant, tick: dt.datetime) -> str:
    name = safe_name(spec.name, FILE)[:36]
    return f"cron-{name}-{tick.astimezone(dt.UTC):%Y%m%dT%H%M}"


def build_cron_want_schedule(graph, spec: CronWant, jobs_by_name: dict, default_status=None):
    import dagster as dg

    from databuild_assets.core.wants import create_want
    from databuild_assets.dagster.run_contract import job_name

    sample = cron_refs(spec, dt.datetime.now(dt.UTC))
    for r in sample:
        graph.registry.parse(r)  # a bad template fails when definitions load, not at 06:00
    job = jobs_by_name[job_name(graph.registry.job_for(sample[0]).label)]

    @dg.schedule(name=f"want_{spec.name}", cron_schedule=spec.cron, job=job,
                 execution_timezone=spec.timezone,
                 default_status=default_status or dg.DefaultScheduleStatus.RUNNING,
                 description=f"Wants {', '.join(spec.refs) if not callable(spec.refs) else 'refs'}"
                             f" (date = tick {spec.offset_days:+d} day(s)); the wants sensor "
                             "builds them.")
    def _schedule(context):
        tick = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        refs = cron_refs(spec, tick)
        want = create_want(graph.catalog, refs, ttl=spec.ttl, sla=spec.sla,
                           source=f"cron:{spec.name}", comment=spec.comment,
                           data_ts=tick.timestamp(), want_id=cron_want_id(spec, tick))
        return dg.SkipReason(f"want {want.want_id} recorded for {', '.join(refs)}; "
                             "the databuild_wants sensor builds it")

    return _schedule
