"""One build's plan being executed: each node claimed, re-checked, run (or reused from the
action cache) and committed; refs other builds hold waited for and their outcome taken (or
taken over when their holder died).

With ``jobs > 1`` independent nodes run side by side (core/scheduler.py): one worker thread
per running node, waiting on the node's job process. What the threads share is guarded:
counters and progress events by ``BuildRun.lock``, delegation by ``BuildRun.settling`` (one
thread settles a ref, the others see its outcome), writes to one warehouse target by a pool
lock. ``build.run_build`` opens and closes the build around it.
"""

from __future__ import annotations

import collections
import threading
import time

from .action_cache import lookup as cache_lookup
from .catalog import Event
from .config import JobConfig
from .errors import DatabuildError
from .planner import JobGraph
from .scheduler import Pools, run_dag

POLL_SECONDS = 0.2
MAX_TAKEOVERS = 5  # nested takeovers of refs whose holders died, per build


class Interrupted(DatabuildError):
    """The build was interrupted while this worker waited: it stops waiting."""


def _wait_for(graph, refs: list[str], build_id: str, stop: threading.Event | None = None) -> None:
    """Block while another live build holds any of ``refs`` (until ``stop`` is set)."""
    while True:
        if stop is not None and stop.is_set():
            raise Interrupted("the build was interrupted")
        rows = graph.catalog.partitions(refs)
        owners = {r.owner for r in rows.values()
                  if r.state == "building" and r.owner and r.owner != build_id}
        if not owners or not graph.catalog.alive_builds(owners):
            return
        time.sleep(POLL_SECONDS)


def log_plan(catalog, build_id, plan, detail=None):
    catalog.log(plan_events(build_id, plan, detail))


def plan_events(build_id, plan, detail=None) -> list[Event]:
    """What the plan decided, as events: planned, then skipped, delegated, scheduled refs."""
    extra, fresh = detail or {}, {"reason": "live and fresh"}  # one dict: dumped once
    return (
        [Event(build_id, "planned", detail={"nodes": len(plan.nodes),
                                            "skipped": len(plan.skipped),
                                            "delegated": len(plan.delegated), **extra})]
        + [Event(build_id, "skipped", r, detail=fresh) for r in sorted(plan.skipped)]
        + [Event(build_id, "delegated", r, detail={"build": b})
           for r, b in sorted(plan.delegated.items())]
        + [Event(build_id, "scheduled", r, n.job, extra)
           for n in plan.nodes for r in sorted(n.outputs)])


class BuildRun:
    """One build's execution state: what failed (for dependents), what was delegated."""

    def __init__(self, graph, build_id, executor, result, forced, on_event, upstream, stop):
        self.graph, self.catalog, self.build_id = graph, graph.catalog, build_id
        self.executor, self.result, self.forced = executor, result, forced
        self.on_event, self.upstream = on_event, upstream
        self.bad: dict[str, str] = {}  # ref -> why it is not available to dependents
        self.settled: set[str] = set()
        self.takeovers = 0
        self.stop, self.pools = stop, Pools()
        self.lock, self.settling = threading.Lock(), threading.RLock()
        self._pools: dict[str, str | None] = {}
        self.pool_of = lambda job: getattr(job, "pool", None)

    def emit(self, kind, node, payload):
        if self.on_event:
            with self.lock:
                self.on_event(kind, node, payload)

    def pool(self, job) -> str | None:
        if job.label not in self._pools:
            self._pools[job.label] = self.pool_of(job)
        return self._pools[job.label]

    def nodes(self, plan: JobGraph, jobs: int = 1) -> None:
        """Each node once its plan predecessors finished, up to ``jobs`` at once."""
        at: dict[str, list[int]] = collections.defaultdict(list)
        for i, n in enumerate(plan.nodes):
            at[n.hash].append(i)
        preds = {i: [p for h in plan.upstream.get(n.hash, ()) for p in at.get(h, ())]
                 for i, n in enumerate(plan.nodes)}
        run_dag(list(range(len(plan.nodes))), preds,
                lambda i: self.node(plan.nodes[i], plan), jobs,
                pool_of=lambda i: self.pool(self.graph.registry.jobs[plan.nodes[i].job]),
                on_interrupt=self.stop.set)

    # -- delegation -----------------------------------------------------------------------
    def settle(self, refs: list[str], holders: dict[str, str]) -> None:
        """Wait for refs other builds hold, then take their outcome: live is ours; failed
        is ours too (naming the holder); a holder that died is taken over (we build it)."""
        with self.settling:  # one thread settles a ref; the others then see its outcome
            self._settle(refs, holders)

    def _settle(self, refs: list[str], holders: dict[str, str]) -> None:
        todo = [r for r in refs if r not in self.settled]
        while todo:
            _wait_for(self.graph, todo, self.build_id, self.stop)
            st = self.graph.status(todo, own_build=self.build_id)
            finished = self.catalog.build_statuses({holders.get(r) for r in todo})
            again, takeover = [], []
            for r in todo:
                s, holder = st[r], holders.get(r, "?")
                if s.state == "live":
                    self._settled(r, "live")
                elif s.state == "building":  # another build claimed it meanwhile
                    holders[r] = s.owner or holder
                    again.append(r)
                elif s.state == "failed" and finished.get(holder) != "running":
                    why = (f"{r} was being built by build {holder}, which failed it: "
                           f"{s.reasons[0] if s.reasons else 'failed'}")
                    self._settled(r, "failed")
                    self.result.failed[r] = self.bad[r] = why
                    self.catalog.log([Event(self.build_id, "failed", r, detail={
                        "error": why, "build": holder})])
                else:  # the holder died (or left it unbuilt): build it ourselves
                    takeover.append(r)
            if takeover:
                self._take_over(takeover, holders)
            todo = again

    def _settled(self, ref: str, outcome: str) -> None:
        self.settled.add(ref)
        self.result.delegated[ref] = outcome

    def _take_over(self, refs: list[str], holders: dict[str, str]) -> None:
        self.takeovers += 1
        if self.takeovers > MAX_TAKEOVERS:
            for r in refs:
                why = (f"{r}: gave up after {MAX_TAKEOVERS} takeovers of builds that died "
                       "holding it; retry the build")
                self._settled(r, "failed")
                self.result.failed[r] = self.bad[r] = why
            return
        sub = self.graph.plan(refs, own_build=self.build_id, upstream=self.upstream)
        dead = {r: holders.get(r) for r in refs}
        log_plan(self.catalog, self.build_id, sub, {"takeover_from": sorted(
            {b for b in dead.values() if b})})
        for r in refs:
            self._settled(r, "taken over")
        self.nodes(sub)  # in this worker, one at a time: pool locks still apply
        self.settle(list(sub.delegated), dict(sub.delegated))
        for r in refs:
            if r in self.result.failed or r in self.result.blocked:
                self.bad.setdefault(r, self.result.failed.get(r) or self.result.blocked[r])

    # -- one node -------------------------------------------------------------------------
    def node(self, node: JobConfig, plan: JobGraph) -> None:
        graph, catalog, build_id, result = self.graph, self.catalog, self.build_id, self.result
        job = graph.registry.jobs[node.job]
        waiting = [i for i in node.materialize_inputs if i in plan.delegated]
        if waiting:
            self.settle(waiting, dict(plan.delegated))
        blockers = [i for i in node.materialize_inputs if i in self.bad]
        outs = sorted(node.outputs)
        if blockers:
            why = f"not run: input {blockers[0]} failed ({self.bad[blockers[0]]})"
            for o in outs:
                result.blocked[o] = self.bad[o] = why
            catalog.log([Event(build_id, "cancelled", o, node.job, {"reason": why}) for o in outs])
            self.emit("blocked", node, why)
            return
        datasets = {o: graph.registry.dataset(o) for o in outs}
        held: dict[str, str] = {}  # refs we waited for at claim time -> their holder
        while (holder := catalog.claim(datasets, build_id)) is not None:
            catalog.log([Event(build_id, "delegated", o, node.job, {"build": holder})
                         for o in outs])
            held.update({o: holder for o in outs})
            _wait_for(graph, outs, build_id, self.stop)
        configs = [node]
        if not (set(outs) & self.forced):
            now = graph.status(outs, own_build=build_id)
            done = {o for o in outs if now[o].state == "live"}
            if held:  # outcomes of the build we waited for: its failure is ours
                finished = catalog.build_statuses(set(held.values()))
                for o in sorted(set(held) - done):
                    if now[o].state == "failed" and finished.get(held[o]) != "running":
                        why = (f"{o} was being built by build {held[o]}, which failed it: "
                               f"{now[o].reasons[0] if now[o].reasons else 'failed'}")
                        result.failed[o] = self.bad[o] = why
                        self._settled(o, "failed")
                        done.add(o)
            if done:
                # built meanwhile by another build, or early cutoff: inputs came out unchanged
                configs = _reconfigure(job, node, [o for o in outs if o not in done])
                running = {o for c in configs for o in c.outputs}
                cut = [o for o in sorted(done) if o not in running and o not in result.failed]
                for o in cut:
                    if o in held:
                        self._settled(o, "live")
                    else:
                        result.cut_off.append(o)
                catalog.log([Event(build_id, "skipped", o, node.job,
                                   {"reason": "fresh when its turn came"}) for o in cut])
                catalog.release(sorted(done - running), build_id)
                if not configs:
                    self.emit("skipped", node, None)
                    return
        never = {o for o in outs if plan.reasons.get(o, ())[1:2] == ("never built",)}
        for config in configs:
            self._run_config(job, config, bool(set(config.outputs) & self.forced), never)
        self.emit("node_done", node, None)

    def _run_config(self, job, config: JobConfig, forced: bool, never_built=frozenset()) -> None:
        catalog, build_id, result = self.catalog, self.build_id, self.result
        hits = None if forced else cache_lookup(self.graph, job, config, never_built)
        if hits:
            for m in hits:
                catalog.republish(m, self.graph.registry.dataset(m.ref), [Event(
                    build_id, "available", m.ref, config.job,
                    {"data_version": m.data_version, "manifest_id": m.manifest_id,
                     "cached": True, "built_by": m.build_id})])
            result.manifests += hits
            result.cached += [m.ref for m in hits]
            self.emit("cached", config, hits)
            return
        catalog.log([Event(build_id, "building", o, config.job) for o in sorted(config.outputs)])
        self.emit("building", config, None)
        with self.pools.lock(self.pool(job)):  # one writer per warehouse target
            outcome = self.executor.run(job, config)
        with self.lock:
            result.jobs_run += 1
        result.manifests += outcome.manifests
        result.built += [m.ref for m in outcome.manifests]
        result.failed.update(outcome.failed)
        self.bad.update(outcome.failed)
        self.emit("done", config, outcome)


def _reconfigure(job, node: JobConfig, refs: list[str]) -> list[JobConfig]:
    """Configs for just the refs still needed; the original config if they would reach
    beyond the outputs we hold."""
    if not refs:
        return []
    configs = [c if c.job else c.with_job(job.label) for c in job.configure(refs)]
    if all(c.outputs <= node.outputs for c in configs):
        return configs
    return [node]
