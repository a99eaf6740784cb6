"""Sensors and schedules: pure decision functions with thin Dagster wrappers.

* staleness: per-partition state reported to Dagster (``staleness.py``)
* wants: plan, launch, retry and SLA-check what is wanted (``decisions.py``, ``wants.py``)
* failures: retriable vs permanent, backoff with jitter and cap (``failures.py``)
* propagation: launch dependents of partitions that became live (``propagation.py``)
* cron wants: schedules that want refs computed from the tick time (``cron.py``)
* notifiers: log and webhook (``notify.py``)
"""

from __future__ import annotations

import random
import time

from .cron import CronWant, build_cron_want_schedule, cron_refs
from .failures import RetryPolicy, backoff_seconds, classify
from .notify import (
    LogNotifier,
    MultiNotifier,
    Notifier,
    WebhookNotifier,
    notifier_for,
    notifier_from_settings,
)
from .staleness import build_staleness_sensor, status_changes


def build_automation(graph, notifier: Notifier | None = None, *, jobs: list | None = None,
                     cron_wants=(), interval_seconds: int = 30,
                     propagation: bool = True, propagation_interval_seconds: int | None = None,
                     window_days: int | None = None, retry_policy: RetryPolicy | None = None,
                     clock=time.time, rng: random.Random | None = None, default_status=None):
    """(sensors, schedules) for a bound graph: the wants sensor, the propagation sensor and
    one schedule per cron want (``cron_wants`` plus ``graph.cron_wants`` if set).

    ``jobs``: the ``<job>__job`` asset jobs of ``build_definitions`` (built here if None);
    ``notifier``: the entry point's (``notify.notifier_for`` the settings' webhook URL);
    None: ``notify.notifier_from_settings`` (log, plus the secret DATABUILD_WEBHOOK_URL)."""
    from databuild_assets.dagster.run_contract import asset_jobs

    from .propagation import DEFAULT_WINDOW_DAYS, build_propagation_sensor
    from .wants import build_wants_sensor

    jobs = list(jobs) if jobs is not None else asset_jobs(graph)
    sensors = [build_wants_sensor(graph, jobs, notifier, interval_seconds=interval_seconds,
                                  policy=retry_policy or RetryPolicy(), clock=clock, rng=rng,
                                  default_status=default_status)]
    if propagation:
        sensors.append(build_propagation_sensor(
            graph, jobs, interval_seconds=propagation_interval_seconds or interval_seconds,
            window_days=window_days or DEFAULT_WINDOW_DAYS, default_status=default_status))
    by_name = {j.name: j for j in jobs}
    specs = list(cron_wants) + list(getattr(graph, "cron_wants", None) or [])
    schedules = [build_cron_want_schedule(graph, spec, by_name) for spec in specs]
    return sensors, schedules


__all__ = ["CronWant", "LogNotifier", "MultiNotifier", "Notifier", "RetryPolicy",
           "WebhookNotifier", "backoff_seconds", "build_automation", "build_cron_want_schedule",
           "build_staleness_sensor", "classify", "cron_refs", "notifier_for",
           "notifier_from_settings", "status_changes"]
