"""Run a build: plan the requested refs, open the build in the catalog (requested and plan
events, heartbeat), execute the plan (``build_run.BuildRun``), close it with its status.
A plan with nothing to run or wait for is a null build: one transaction, no heartbeat.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from .build_result import BuildResult, Heartbeat
from .build_run import BuildRun, plan_events
from .catalog import Event
from .config import JobConfig
from .executor import Executor

__all__ = ["BuildResult", "run_build", "usable_jobs"]


def usable_jobs(catalog, jobs: int) -> int:
    """``jobs``, or 1 when the catalog cannot be shared by threads (an in-memory SQLite
    catalog gives each thread its own empty database)."""
    pool = type(getattr(getattr(catalog, "engine", None), "pool", None)).__name__
    return 1 if pool == "SingletonThreadPool" else max(1, int(jobs))


def run_build(graph, refs: list[str], force: bool = False, origin: str = "api",
              build_id: str | None = None, run_id: str | None = None,
              on_event: Callable[[str, JobConfig, object], None] | None = None,
              upstream: bool = True, logger=None, jobs: int = 1,
              pool_of: Callable[[object], str | None] | None = None) -> BuildResult:
    """Plan ``refs`` and run the plan; ``jobs``: how many plan nodes may run at once.
    ``pool_of(job)``: the job's pool key (jobs with one key never run side by side; the CLI
    passes resources.pools.warehouse_pool); default: the job's own ``pool`` attribute."""
    build_id = build_id or uuid.uuid4().hex[:12]
    catalog, started = graph.catalog, time.time()
    # a rejected request writes nothing: refs, lookup and planning are checked first
    plan = graph.plan(refs, force=force, own_build=build_id, upstream=upstream)
    result = BuildResult(build_id, plan)
    events = ([Event(build_id, "requested", r) for r in sorted(set(refs))]
              + plan_events(build_id, plan))
    if not plan.nodes and not plan.delegated:  # a null build: one transaction, no heartbeat
        catalog.start_build(build_id, refs, origin=origin, events=events, status="succeeded")
        try:
            if on_event:
                on_event("planned", None, plan)
        except BaseException:  # Ctrl-C included: the build is recorded failed, then re-raised
            catalog.finish_build(build_id, "failed")
            raise
        result.seconds = time.time() - started
        return result
    catalog.start_build(build_id, refs, origin=origin, events=events)
    beat = Heartbeat(catalog, build_id)
    beat.start()
    status = "failed"
    try:
        if on_event:
            on_event("planned", None, plan)
        stop = threading.Event()  # set on an interrupt: running jobs stop, waits end
        executor = Executor(graph.registry, catalog, graph.store, build_id, run_id, logger,
                            cancel=stop, default_timeout=graph.job_timeout)
        run = BuildRun(graph, build_id, executor, result, set(refs) if force else set(),
                       on_event, upstream, stop)
        run.pool_of = pool_of or run.pool_of
        run.nodes(plan, usable_jobs(catalog, jobs))
        # requested refs another build holds: its outcome is ours
        run.settle([r for r in plan.requested if r in plan.delegated], plan.delegated)
        status = "succeeded" if result.ok else "failed"
        result.seconds = time.time() - started
        return result
    finally:
        beat.stop.set()
        catalog.finish_build(build_id, status)
