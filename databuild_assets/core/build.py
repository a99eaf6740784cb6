"""Execute a plan in process: claim, re-check, run, commit; delegate to concurrent builds."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from .catalog import Event
from .config import JobConfig
from .executor import Executor
from .manifest import PartitionManifest
from .planner import JobGraph

HEARTBEAT_SECONDS = 5.0
POLL_SECONDS = 0.2


@dataclass
class BuildResult:
    build_id: str
    plan: JobGraph
    manifests: list[PartitionManifest] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)  # not run: an input failed
    cut_off: list[str] = field(default_factory=list)  # fresh after all when their turn came
    jobs_run: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.blocked

    def summary(self) -> dict:
        return {
            "build_id": self.build_id, "ok": self.ok, "jobs_run": self.jobs_run,
            "partitions_built": len(self.manifests), "skipped": len(self.plan.skipped),
            "delegated": len(self.plan.delegated) + len(self.cut_off),
            "failed": len(self.failed), "blocked": len(self.blocked),
            "seconds": round(self.seconds, 3),
        }


class _Heartbeat(threading.Thread):
    def __init__(self, catalog, build_id):
        super().__init__(daemon=True, name=f"heartbeat-{build_id}")
        self.catalog, self.build_id, self.stop = catalog, build_id, threading.Event()

    def run(self):
        while not self.stop.wait(HEARTBEAT_SECONDS):
            try:
                self.catalog.heartbeat(self.build_id)
            except Exception:  # a missed beat only shortens the lease
                pass


def _wait_for(graph, refs: list[str], build_id: str, timeout: float | None = None) -> None:
    """Block while another live build holds any of ``refs``."""
    deadline = None if timeout is None else time.time() + timeout
    while True:
        rows = graph.catalog.partitions(refs)
        owners = {r.owner for r in rows.values()
                  if r.state == "building" and r.owner and r.owner != build_id}
        if not owners or not graph.catalog.alive_builds(owners):
            return
        if deadline and time.time() > deadline:
            return
        time.sleep(POLL_SECONDS)


def run_build(graph, refs: list[str], force: bool = False, origin: str = "api",
              build_id: str | None = None, run_id: str | None = None,
              on_event: Callable[[str, JobConfig, object], None] | None = None,
              upstream: bool = True, logger=None) -> BuildResult:
    build_id = build_id or uuid.uuid4().hex[:12]
    catalog, started = graph.catalog, time.time()
    catalog.start_build(build_id, refs, origin=origin)
    beat = _Heartbeat(catalog, build_id)
    beat.start()
    status = "failed"
    try:
        catalog.log([Event(build_id, "requested", r) for r in sorted(set(refs))])
        plan = graph.plan(refs, force=force, own_build=build_id, upstream=upstream)
        result = BuildResult(build_id, plan)
        catalog.log(
            [Event(build_id, "planned", detail={"nodes": len(plan.nodes),
                                                "skipped": len(plan.skipped),
                                                "delegated": len(plan.delegated)})]
            + [Event(build_id, "skipped", r, detail={"reason": "live and fresh"})
               for r in sorted(plan.skipped)]
            + [Event(build_id, "delegated", r, detail={"build": b})
               for r, b in sorted(plan.delegated.items())]
            + [Event(build_id, "scheduled", r, n.job) for n in plan.nodes for r in sorted(n.outputs)])
        if on_event:
            on_event("planned", None, plan)
        forced = set(refs) if force else set()
        executor = Executor(graph.registry, catalog, graph.store, build_id, run_id, logger)
        bad: dict[str, str] = {}  # ref -> why it is not available to dependents
        for node in plan.nodes:
            _run_node(graph, node, plan, executor, result, bad, forced, on_event)
        status = "succeeded" if result.ok else "failed"
        result.seconds = time.time() - started
        return result
    finally:
        beat.stop.set()
        catalog.finish_build(build_id, status)


def _run_node(graph, node, plan, executor, result, bad, forced, on_event):
    catalog, build_id = graph.catalog, executor.build_id
    job = graph.registry.jobs[node.job]
    blockers = [i for i in node.materialize_inputs if i in bad]
    waiting = [i for i in node.materialize_inputs if i in plan.delegated]
    if waiting:
        _wait_for(graph, waiting, build_id)
        st = graph.status(waiting)
        blockers += [i for i in waiting if st[i].state != "live"]
        for i in waiting:
            if st[i].state != "live":
                bad[i] = f"input {i} built by another build is {st[i].state}"
    outs = sorted(node.outputs)
    if blockers:
        why = f"not run: input {blockers[0]} failed ({bad.get(blockers[0], 'unavailable')})"
        for o in outs:
            result.blocked[o] = why
            bad[o] = why
        catalog.log([Event(build_id, "cancelled", o, node.job, {"reason": why}) for o in outs])
        if on_event:
            on_event("blocked", node, why)
        return
    datasets = {o: graph.registry.dataset(o) for o in outs}
    while (holder := catalog.claim(datasets, build_id)) is not None:
        catalog.log([Event(build_id, "delegated", o, node.job, {"build": holder}) for o in outs])
        _wait_for(graph, outs, build_id)
    configs = [node]
    if not (set(outs) & forced):
        now = graph.status(outs, own_build=build_id)
        fresh = sorted(o for o in outs if now[o].state == "live")
        if fresh:
            # built meanwhile by another build, or early cutoff: inputs came out unchanged
            configs = _reconfigure(job, node, [o for o in outs if o not in fresh])
            running = {o for c in configs for o in c.outputs}
            cut = [o for o in fresh if o not in running]
            result.cut_off += cut
            catalog.log([Event(build_id, "skipped", o, node.job,
                               {"reason": "fresh when its turn came"}) for o in cut])
            catalog.release(cut, build_id)
            if not configs:
                if on_event:
                    on_event("skipped", node, None)
                return
    for config in configs:
        catalog.log([Event(build_id, "building", o, config.job) for o in sorted(config.outputs)])
        if on_event:
            on_event("building", config, None)
        outcome = executor.run(job, config)
        result.jobs_run += 1
        result.manifests += outcome.manifests
        result.failed.update(outcome.failed)
        bad.update(outcome.failed)
        if on_event:
            on_event("done", config, outcome)
    if on_event:
        on_event("node_done", node, None)


def _reconfigure(job, node: JobConfig, refs: list[str]) -> list[JobConfig]:
    """Configs for just the refs still needed; the original config if they would reach
    beyond the outputs we hold."""
    if not refs:
        return []
    configs = [c if c.job else c.with_job(job.label) for c in job.configure(refs)]
    if all(c.outputs <= node.outputs for c in configs):
        return configs
    return [node]
