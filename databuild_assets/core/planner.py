"""Planning: from requested refs to the job configs that must run, in dependency order.

Pure with respect to data: it reads the catalog (through a status function) and calls
the jobs' configure(), nothing else.
"""

from __future__ import annotations

import graphlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .config import JobConfig
from .errors import ConfigError, CycleError, MissingInputError
from .registry import Registry
from .staleness import Status

StatusFn = Callable[[Iterable[str]], dict[str, Status]]


@dataclass
class JobGraph:
    requested: list[str]
    nodes: list[JobConfig] = field(default_factory=list)
    upstream: dict[str, set[str]] = field(default_factory=dict)  # config hash -> config hashes
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
    requested = sorted(set(refs))
    for r in requested:
        registry.parse(r)  # malformed or unknown refs fail before anything else
    g = JobGraph(requested)
    nodes: dict[str, JobConfig] = {}
    assigned: dict[str, str] = {}
    decided: set[str] = set()

    def triage(candidates: Iterable[str], forced: bool) -> set[str]:
        todo = sorted(set(candidates) - decided - set(assigned))
        statuses = status(todo) if todo else {}
        pending = set()
        for r in todo:
            st = statuses[r]
            decided.add(r)
            if st.state == "building" and st.owner and st.owner != own_build:
                g.delegated[r] = st.owner
            elif st.state == "live" and not forced:
                g.skipped[r] = st
            else:
                g.reasons[r] = ("forced",) if forced and st.state == "live" else (
                    (st.state,) + tuple(st.reasons))
                pending.add(r)
        return pending

    pending = triage(requested, force)
    while pending:
        next_inputs: set[str] = set()
        for label, job_refs in registry.lookup(pending).items():
            job = registry.jobs[label]
            configs = job.configure(list(job_refs))
            covered: set[str] = set()
            for c in configs or []:
                if not isinstance(c, JobConfig):
                    raise ConfigError(f"job {label!r} configure() returned {c!r}, not a JobConfig")
                c = c if c.job else c.with_job(label)
                for o in c.outputs:
                    if registry.job_for(o) is not job:
                        raise ConfigError(f"job {label!r} configured output {o!r}, which job "
                                          f"{registry.job_for(o).label!r} produces")
                key = c.hash
                covered |= c.outputs
                if key in nodes:
                    continue
                clash = [o for o in c.outputs if o in assigned and assigned[o] != key]
                if clash:
                    raise ConfigError(f"job {label!r} put {clash[0]!r} into two different "
                                      "configs; each ref must be configured once")
                nodes[key] = c
                for o in c.outputs:
                    assigned[o] = key
                    decided.add(o)
                for i in c.materialize_inputs:
                    registry.parse(i)
                    next_inputs.add(i)
            lost = sorted(set(job_refs) - covered)
            if lost:
                raise ConfigError(f"job {label!r} configure() returned no config for "
                                  f"{', '.join(lost[:5])}; every requested ref needs one")
        pending = triage(next_inputs, False)
        if pending and not upstream:
            raise MissingInputError(sorted(pending), reasons={r: g.reasons[r] for r in pending})

    ts: graphlib.TopologicalSorter = graphlib.TopologicalSorter()
    for key, c in nodes.items():
        ups = {assigned[i] for i in c.materialize_inputs if i in assigned}
        g.upstream[key] = ups
        ts.add(key, *ups)
    try:
        order = list(ts.static_order())
    except graphlib.CycleError as e:
        cycle = e.args[1]
        raise CycleError([f"{nodes[k].job}({min(nodes[k].outputs)})" for k in cycle]) from None
    g.nodes = [nodes[k] for k in order]
    return g
