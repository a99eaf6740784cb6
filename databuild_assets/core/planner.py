"""Planning: from requested refs to the job configs that must run, in dependency order.

Pure with respect to data: it reads the catalog (through a status function) and calls
the jobs' configure(), nothing else.
"""

from __future__ import annotations

import graphlib
import sys
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .config import DepType, JobConfig
from .errors import ConfigError, CycleError, MissingInputError
from .registry import Registry
from .staleness import Status, gc_paused

StatusFn = Callable[[Iterable[str]], dict[str, Status]]
STATUS_BATCH = 100_000  # refs assessed per status() call while planning


@dataclass
class JobGraph:
    requested: list[str]
    nodes: list[JobConfig] = field(default_factory=list)
    # config hash -> hashes of the configs it depends on (a tuple: a set costs 4x the memory)
    upstream: dict[str, tuple[str, ...]] = field(default_factory=dict)
    skipped: dict[str, Status] = field(default_factory=dict)  # live and fresh: nothing to do
    delegated: dict[str, str] = field(default_factory=dict)  # ref -> build id building it
    reasons: dict[str, tuple[str, ...]] = field(default_factory=dict)  # why a ref is (re)built

    @property
    def output_refs(self) -> list[str]:
        return sorted(r for n in self.nodes for r in n.outputs)

    def node_of(self) -> dict[str, JobConfig]:
        return {r: n for n in self.nodes for r in n.outputs}

    def to_json(self) -> dict:
        return {
            "requested": self.requested,
            "nodes": [{**n.to_json(), "hash": n.hash,
                       "upstream": sorted(self.upstream.get(n.hash, ()))} for n in self.nodes],
            "skipped": sorted(self.skipped),
            "delegated": self.delegated,
            "reasons": {r: list(v) for r, v in self.reasons.items()},
        }

    def mermaid(self, max_nodes: int = 200) -> str:
        from .render import mermaid

        return mermaid(self, max_nodes)


def plan(registry: Registry, status: StatusFn, refs: Iterable[str], force: bool = False,
         own_build: str | None = None, upstream: bool = True) -> JobGraph:
    """``upstream=False`` plans only the requested refs and raises MissingInputError when
    their MATERIALIZE inputs are not live and fresh (the Dagster step semantics)."""
    with gc_paused():
        return _plan(registry, status, refs, force, own_build, upstream)


def _plan(registry: Registry, status: StatusFn, refs: Iterable[str], force: bool,
          own_build: str | None, upstream: bool) -> JobGraph:
    # interned: the inputs configure() formats (interned by PartitionPattern.format) are
    # then these very strings, not a second copy of each (a million-ref plan)
    requested = sorted(set(map(sys.intern, refs)))
    registry.check(requested)  # malformed or unknown refs fail before anything else
    g = JobGraph(requested)
    nodes: dict[str, JobConfig] = {}
    # every ref decided so far -> the hash of the config that builds it, or None (skipped,
    # delegated, or pending until configured): one dict, not a dict and a set of a million
    assigned: dict[str, str | None] = {}
    MAT = DepType.MATERIALIZE

    shared: dict[tuple[str, ...], tuple[str, ...]] = {}  # one tuple per distinct reason list

    def triage(candidates: list[str] | set[str], forced: bool) -> set[str]:
        """``candidates``: distinct refs (a set is emptied: a million-ref plan keeps no
        second copy of it, nor the set differences, alive while status runs)."""
        todo = sorted([r for r in candidates if r not in assigned])
        if isinstance(candidates, set):
            candidates.clear()
        pending = set()
        for start in range(0, len(todo), STATUS_BATCH):  # bounded memory for huge plans
            chunk = todo[start:start + STATUS_BATCH]
            statuses = status(chunk)
            for r in chunk:
                st = statuses[r]
                assigned[r] = None
                if st.state == "building" and st.owner and st.owner != own_build:
                    g.delegated[r] = st.owner
                elif st.state == "live" and not forced:
                    g.skipped[r] = st
                else:
                    why = ("forced",) if forced and st.state == "live" else (
                        (st.state,) + tuple(st.reasons))
                    g.reasons[r] = shared.setdefault(why, why)
                    pending.add(r)
            del statuses
        return pending

    pending = triage(requested, force)
    while pending:
        next_inputs: set[str] = set()
        by_job: dict[str, list[str]] = {}
        for r in pending:  # pending refs are parsed: only the producer is needed
            by_job.setdefault(registry.producer_of(r).label, []).append(r)
        pending.clear()  # a million-ref plan: by_job holds them; no second copy while configuring
        for label, job_refs in by_job.items():
            job = registry.jobs[label]
            job_refs.sort()
            configs = job.configure(list(job_refs))
            for c in configs or []:
                if not isinstance(c, JobConfig):
                    raise ConfigError(f"job {label!r} configure() returned {c!r}, not a JobConfig")
                c = c if c.job else c._relabel(label)
                for o in c.outputs:
                    owner = registry.producer_of(o) if o in assigned else registry.job_for(o)
                    if owner is not job:
                        raise ConfigError(f"job {label!r} configured output {o!r}, which job "
                                          f"{owner.label!r} produces")
                key = c.hash
                if key in nodes:
                    continue
                clash = [o for o in c.outputs if assigned.get(o) not in (None, key)]
                if clash:
                    raise ConfigError(f"job {label!r} put {clash[0]!r} into two different "
                                      "configs; each ref must be configured once")
                nodes[key] = c
                for o in c.outputs:
                    assigned[o] = key
                m = [d[1] for d in c.inputs if d[0] is MAT]  # DataDep: (type, ref)
                # decided or already a next input: checked already
                registry.check([i for i in m if i not in assigned and i not in next_inputs])
                next_inputs.update(m)
            # pending refs were unassigned: one a config of this job covered is assigned now
            # (no set of covered refs, nor a set difference, on a million-ref plan)
            lost = [r for r in job_refs if assigned[r] is None]
            if lost:
                raise ConfigError(f"job {label!r} configure() returned no config for "
                                  f"{', '.join(lost[:5])}; every requested ref needs one")
        pending = triage(next_inputs, False)
        if pending and not upstream:
            raise MissingInputError(sorted(pending), reasons={r: g.reasons[r] for r in pending})

    # a million-ref plan: the edges come from the configs' inputs (no copy kept while
    # planning), and the lookups are freed before sorting
    get = assigned.get
    for key, c in nodes.items():
        g.upstream[key] = tuple({k for d in c.inputs
                                 if d[0] is MAT and (k := get(d[1])) is not None})
    assigned.clear()
    order = _toposort(g.upstream)
    if order is None:  # let graphlib name the cycle
        ts: graphlib.TopologicalSorter = graphlib.TopologicalSorter()
        for key, ups in g.upstream.items():
            ts.add(key, *ups)
        try:
            order = list(ts.static_order())
        except graphlib.CycleError as e:
            cycle = e.args[1]
            raise CycleError([f"{nodes[k].job}({min(nodes[k].outputs)})" for k in cycle]) from None
    g.nodes = [nodes[k] for k in order]
    return g


def _toposort(upstream: dict[str, tuple[str, ...]]) -> list[str] | None:
    """graphlib.TopologicalSorter.static_order's exact order (nodes numbered as first seen,
    successors in the order their edges come); None when there is a cycle.

    On a million-ref plan this runs at the plan's peak memory: the successors are one flat
    array per graph (offsets and targets) instead of a dict of half a million lists."""
    index: dict[str, int] = {}
    for key, ups in upstream.items():
        if key not in index:
            index[key] = len(index)
        for u in ups:
            if u not in index:
                index[u] = len(index)
    n = len(index)
    npred = [0] * n
    start = array("q", bytes(8 * (n + 1)))  # successors of node i: targets[start[i]:start[i+1]]
    for key, ups in upstream.items():
        npred[index[key]] = len(ups)
        for u in ups:
            start[index[u] + 1] += 1
    for i in range(n):
        start[i + 1] += start[i]
    fill = array("q", start)
    targets = array("i", bytes(4 * start[n]))  # node numbers: 4 bytes each
    for key, ups in upstream.items():
        k = index[key]
        for u in ups:
            j = index[u]
            targets[fill[j]] = k
            fill[j] += 1
    keys = list(index)
    del fill, index  # the numbering is all the sort needs now
    ready = [i for i in range(n) if not npred[i]]
    order = array("i")
    while ready:
        order.extend(ready)
        nxt = []
        for v in ready:
            for t in targets[start[v]:start[v + 1]]:
                npred[t] -= 1
                if not npred[t]:
                    nxt.append(t)
        ready = nxt
    if len(order) != n:
        return None
    del targets, start
    return [keys[i] for i in order]
