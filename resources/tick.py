"""Tick variables: a schedule tick (or the moment of a manual run) rendered into task `vars`.

``{{ scheduled_date }}`` is the tick's date in the schedule's time zone; the data interval
runs from the previous cron tick to this one (one day back without a cron), given as ISO
timestamps (``data_interval_start``/``_end``) and as dates (``..._date``).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from .pipelines_model import TICK_VARS

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
TICK_TAG = "databuild/tick"


def tick_values(tick: dt.datetime, cron: str | None = None, timezone: str = "UTC") -> dict:
    tz = zoneinfo.ZoneInfo(timezone)
    tick = (tick if tick.tzinfo else tick.replace(tzinfo=dt.UTC)).astimezone(tz)
    start = tick - dt.timedelta(days=1)
    if cron:
        from dagster._utils.schedules import reverse_cron_string_iterator

        # the latest cron tick strictly before this one
        for t in reverse_cron_string_iterator(tick.timestamp() - 1e-3, cron, timezone):
            if t < tick:
                start = t.astimezone(tz)
                break
    values = {"scheduled_date": tick.date().isoformat(),
              "data_interval_start": start.isoformat(), "data_interval_end": tick.isoformat(),
              "data_interval_start_date": start.date().isoformat(),
              "data_interval_end_date": tick.date().isoformat()}
    assert set(values) == set(TICK_VARS)
    return values


def render(value, values: dict):
    """Replace ``{{ name }}`` in every string of ``value`` (dicts and lists walked)."""
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: render(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, values) for v in value]
    return value


def has_placeholders(value) -> bool:
    return render(value, {n: "" for n in TICK_VARS}) != value
