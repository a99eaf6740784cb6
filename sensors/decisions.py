"""What the wants sensor does on a tick, as pure functions of wants, catalog state, runs in
flight and the clock. No Dagster here: the sensor in ``sensors/wants.py`` feeds these and
turns the answer into RunRequests.

Work is launched wave by wave: a job config is *ready* when none of its MATERIALIZE inputs
still has to be built (by this plan, another build, or a run in flight). Ready configs are
batched one run per job and contiguous partition range.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from databuild_assets.core.planner import JobGraph
from databuild_assets.core.refs import DateDim, StaticDim, consecutive_runs
from databuild_assets.core.registry import Registry
from databuild_assets.core.wants import RetryState, Want

MAX_REFS_PER_RUN = 1000


@dataclass(frozen=True)
class Batch:
    """One run to launch: a job over some refs (a contiguous partition range)."""

    job: str
    refs: tuple[str, ...]
    want_ids: tuple[str, ...] = ()
    attempt: int = 1  # 1 + the most failed attempts among its refs
    failure_class: str | None = None  # class of the last failure, when this is a retry


@dataclass(frozen=True)
class SlaBreach:
    want_id: str
    ref: str
    sla_seconds: float
    age_seconds: float
    state: str  # the ref's state when the SLA passed


@dataclass
class WantsDecision:
    batches: list[Batch] = field(default_factory=list)
    satisfied: list[str] = field(default_factory=list)
    expired: list[str] = field(default_factory=list)
    breaches: list[SlaBreach] = field(default_factory=list)
    waiting: dict[str, str] = field(default_factory=dict)  # ref -> why it is not launched


def _position(registry: Registry, ref: str) -> int | None:
    """Order of a ref's partition along its only dimension (date or static), else None."""
    p = registry.pattern(ref)
    if len(p.dims) != 1:
        return None
    d, value = p.dims[0], p.parse(ref)[p.dims[0].name]
    if isinstance(d, DateDim):
        return dt.date.fromisoformat(value).toordinal()
    if isinstance(d, StaticDim):
        return d.values.index(value)
    return None


def contiguous_batches(registry: Registry, refs: Iterable[str],
                       max_refs: int = MAX_REFS_PER_RUN) -> list[tuple[str, ...]]:
    """Split one job's refs into runs over contiguous ranges (consecutive days or static
    values). Multi-dimensional or token partitions go in one run: the exact refs travel in
    run config, the range tags only cover them."""
    placed = [(_position(registry, r), r) for r in sorted(set(refs))]
    unplaced = [r for pos, r in placed if pos is None]
    groups = [unplaced] if unplaced else []
    groups += [[r for _, r in run] for run in consecutive_runs(
        sorted((pos, r) for pos, r in placed if pos is not None), lambda item: item[0])]
    out = []
    for g in groups:  # chunks follow the partition order; refs within a run are sorted
        out += [tuple(sorted(g[i:i + max_refs])) for i in range(0, len(g), max_refs)]
    return out


def ready_nodes(plan: JobGraph, in_flight: set[str], retries: dict[str, RetryState],
                now: float) -> tuple[list, dict[str, str]]:
    """Configs that can run now, and why each other planned ref waits."""
    planned = set(plan.output_refs)
    ready, waiting = [], {}
    for n in plan.nodes:
        outs = sorted(n.outputs)
        why = None
        busy = [o for o in outs if o in in_flight]
        pending = [i for i in sorted(n.materialize_inputs)
                   if i in planned or i in in_flight or i in plan.delegated]
        states = [retries[o] for o in outs if o in retries]
        if busy:
            why = f"in flight: {busy[0]}"
        elif any(st.gave_up for st in states):
            st = next(st for st in states if st.gave_up)
            why = f"not retried: {st.failure_class} failure: {(st.error or '')[:200]}"
        elif pending:
            why = f"waiting for input {pending[0]}"
        elif any((st.next_attempt_at or 0) > now for st in states):
            at = max(st.next_attempt_at or 0 for st in states)
            why = f"retry {max(st.attempts for st in states) + 1} in {at - now:.0f}s"
        if why:
            waiting.update({o: why for o in outs})
        else:
            ready.append(n)
    return ready, waiting


def _wants_served(plan: JobGraph, wants: list[Want]) -> dict[str, set[str]]:
    """config hash -> ids of the wants whose requested refs it leads to."""
    by_ref: dict[str, set[str]] = defaultdict(set)
    for w in wants:
        for r in w.refs:
            by_ref[r].add(w.want_id)
    down: dict[str, set[str]] = defaultdict(set)
    for h, ups in plan.upstream.items():
        for u in ups:
            down[u].add(h)
    nodes = {n.hash: n for n in plan.nodes}
    memo: dict[str, set[str]] = {}
    for n in reversed(plan.nodes):  # dependents come later in the order
        ids = set().union(*(by_ref.get(o, set()) for o in n.outputs))
        for d in down.get(n.hash, ()):
            ids |= memo.get(d, set())
        memo[n.hash] = ids
    return {h: memo.get(h, set()) for h in nodes}


def batch_nodes(registry: Registry, nodes: list, retries: dict[str, RetryState],
                served: dict[str, set[str]] | None = None) -> list[Batch]:
    """Ready configs -> one Batch per job and contiguous range."""
    by_job: dict[str, list] = defaultdict(list)
    for n in nodes:
        by_job[n.job].append(n)
    batches = []
    for job, ns in sorted(by_job.items()):
        node_of = {o: n for n in ns for o in n.outputs}
        for refs in contiguous_batches(registry, node_of):
            states = [retries[r] for r in refs if r in retries]
            last = max(states, key=lambda st: st.attempts, default=None)
            ids = set()
            for r in refs:
                ids |= (served or {}).get(node_of[r].hash, set())
            batches.append(Batch(job, refs, tuple(sorted(ids)),
                                 1 + (last.attempts if last else 0),
                                 last.failure_class if last else None))
    return batches


def decide_wants(registry: Registry, wants: list[Want], statuses: dict[str, str],
                 plan_fn: Callable[[list[str]], JobGraph], in_flight: set[str],
                 retries: dict[str, RetryState], now: float) -> WantsDecision:
    """One tick: close satisfied and expired wants, report SLA breaches once, and launch
    the ready part of the missing work of the rest.

    ``statuses``: state of every wanted ref (``live`` means live and fresh);
    ``plan_fn(refs)``: the plan for refs (the planner skips live refs and delegates refs
    other builds hold); ``in_flight``: refs in queued or running Dagster runs.
    """
    d = WantsDecision()
    open_wants = []
    for w in wants:
        if w.state != "active":
            continue
        missing = [r for r in w.refs if statuses.get(r) != "live"]
        if not missing:
            d.satisfied.append(w.want_id)
            continue
        if w.expires_at is not None and now >= w.expires_at:
            d.expired.append(w.want_id)
            continue
        open_wants.append(w)
        deadline = w.sla_deadline
        if deadline is not None and now > deadline and w.sla_breached_at is None:
            d.breaches += [SlaBreach(w.want_id, r, w.sla_seconds, now - w.sla_start,
                                     statuses.get(r, "missing")) for r in missing]
    todo = sorted({r for w in open_wants for r in w.refs
                   if statuses.get(r) != "live" and r not in in_flight})
    d.waiting.update({r: "in flight" for w in open_wants for r in w.refs if r in in_flight})
    if not todo:
        return d
    plan = plan_fn(todo)
    d.waiting.update({r: f"being built by build {b}" for r, b in plan.delegated.items()})
    ready, waiting = ready_nodes(plan, in_flight, retries, now)
    d.waiting.update(waiting)
    d.batches = batch_nodes(registry, ready, retries, _wants_served(plan, open_wants))
    return d
