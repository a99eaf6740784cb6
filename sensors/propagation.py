"""Downstream propagation: when partitions become live by any path (a sensor run, a CLI
build, another team's pipeline), launch the dependents whose MATERIALIZE inputs are now all
live and fresh, batched one run per job and contiguous range.

Unlike Dagster's declarative automation this works per partition with the jobs' own
``configure`` (a trailing window, a multi-output job), launches ranges instead of one run
per partition, and is not limited to the latest time window.

Dependents of a ref are found two ways: partitions whose current manifest read it (every
rebuilt input reaches its existing readers), and candidates of downstream datasets with the
same dimension values (dates within ``window_days``, every value of dimensions the ref
lacks) for which ``configure`` names the ref as a MATERIALIZE input (new partitions).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable

from databuild_assets.core.errors import DatabuildError
from databuild_assets.core.refs import DateDim, StaticDim, shift_date
from databuild_assets.core.registry import Registry
from databuild_assets.core.staleness import Status

from .decisions import Batch, contiguous_batches

log = logging.getLogger(__name__)
DEFAULT_WINDOW_DAYS = 31
OVERLAP_IDS = 200  # PostgreSQL may commit event ids out of order: re-read a few, skip seen
MAX_PENDING = 10_000


def candidates(registry: Registry, lineage: dict[str, set[str]], changed: Iterable[str],
               window_days: int = DEFAULT_WINDOW_DAYS) -> dict[str, set[str]]:
    """job label -> refs of its outputs that might read one of ``changed``.

    ``lineage``: job label -> datasets its configs read (dataset-level lineage)."""
    downstream: dict[str, list[str]] = defaultdict(list)
    for label, ups in lineage.items():
        for ds in ups:
            downstream[ds].append(label)
    out: dict[str, set[str]] = defaultdict(set)
    for ref in changed:
        src = registry.pattern(ref)
        values = src.parse(ref)
        for label in downstream.get(src.dataset, ()):
            for p in registry.jobs[label].outputs:
                options = []
                for d in p.dims:
                    v = values.get(d.name)
                    if v is not None and isinstance(d, DateDim) and isinstance(src.dim(d.name), DateDim):
                        options.append([shift_date(v, k) for k in range(-window_days, window_days + 1)])
                    elif v is not None:
                        options.append([v])
                    elif isinstance(d, StaticDim):
                        options.append(list(d.values))
                    else:
                        options = None  # a date or token the ref cannot tell: manifests only
                        break
                if options is None:
                    continue
                for combo in itertools.product(*options):
                    try:
                        out[label].add(p.format(**dict(zip(p.dim_names, combo, strict=True))))
                    except DatabuildError:
                        continue
    return dict(out)


def dependents(registry: Registry, changed: set[str], cands: dict[str, set[str]]
               ) -> dict[str, set[str]]:
    """ref -> its MATERIALIZE inputs, for the candidates whose config reads a changed ref."""
    deps: dict[str, set[str]] = {}
    for label, refs in sorted(cands.items()):
        job = registry.jobs[label]
        for r in sorted(refs):
            if r in deps:
                continue
            try:
                configs = job.configure([r])
            except Exception as e:  # noqa: BLE001 - a candidate outside the job's domain
                log.debug("configure(%s) of %s failed: %s", r, label, e)
                continue
            for c in configs or []:
                mats = set(c.materialize_inputs)
                if not changed & mats:
                    continue
                for o in c.outputs:  # per output, when the job says which inputs it reads
                    own = job.inputs_of(c, o) if hasattr(job, "inputs_of") else None
                    ins = mats if own is None else mats & set(own)
                    if changed & ins:
                        deps.setdefault(o, set()).update(ins)
    return deps


def decide_propagation(registry: Registry, changed: Iterable[str], cands: dict[str, set[str]],
                       status_fn: Callable[[Iterable[str]], dict[str, Status]],
                       in_flight: set[str]) -> tuple[list[Batch], dict[str, str]]:
    """Batches of dependents to launch now, and why each other dependent is not launched."""
    changed = set(changed)
    deps = dependents(registry, changed, cands)
    if not deps:
        return [], {}
    st = status_fn(sorted(set(deps) | set().union(*deps.values())))
    ready: dict[str, list[str]] = defaultdict(list)
    skipped: dict[str, str] = {}
    for ref, inputs in sorted(deps.items()):
        state = st[ref].state
        not_live = sorted(i for i in inputs if st[i].state != "live")
        if state in ("live", "building"):
            skipped[ref] = f"already {state}"
        elif ref in in_flight:
            skipped[ref] = "in flight"
        elif not_live:
            skipped[ref] = f"input {not_live[0]} is {st[not_live[0]].state}"
        else:
            ready[registry.job_for(ref).label].append(ref)
    batches = [Batch(job, refs) for job, rs in sorted(ready.items())
               for refs in contiguous_batches(registry, rs)]
    return batches, skipped


def settle(changed: Iterable[str], pending: Iterable[str], in_flight: set[str]
           ) -> tuple[list[str], list[str]]:
    """Changed refs to propagate now, and those whose run is still going: they wait for a
    later tick, so the dependents of a whole run's range are launched together."""
    refs = sorted(set(changed) | set(pending))
    return ([r for r in refs if r not in in_flight],
            [r for r in refs if r in in_flight][:MAX_PENDING])


def next_events(events: list[tuple[int, str]], seen: set[int]) -> tuple[list[str], int, set[int]]:
    """Refs of events not seen yet, the new high-water mark and the ids to remember."""
    new = [(i, r) for i, r in events if i not in seen]
    high = max([i for i, _ in events], default=0)
    keep = {i for i, _ in events if i > high - OVERLAP_IDS} | {i for i in seen if i > high - OVERLAP_IDS}
    return sorted({r for _, r in new}), high, keep


def build_propagation_sensor(graph, jobs: list, *, interval_seconds: int = 30,
                             window_days: int = DEFAULT_WINDOW_DAYS,
                             name: str = "databuild_propagate", default_status=None):
    import dagster as dg

    from databuild_assets.core.wants import available_since, last_event_id, readers_of
    from databuild_assets.dagster.mappings import upstream_datasets

    from .runs import in_flight_refs, run_requests

    lineage = {job.label: upstream_datasets(graph, job) for job in graph.jobs}

    @dg.sensor(name=name, jobs=jobs, minimum_interval_seconds=interval_seconds,
               default_status=default_status or dg.DefaultSensorStatus.RUNNING,
               description="Launches the dependents of partitions that became live (by any "
                           "path) once all their MATERIALIZE inputs are live and fresh, one "
                           "run per job and contiguous range.")
    def _sensor(context):
        catalog = graph.catalog
        if not context.cursor:  # start from now: history is not replayed (the overlap too)
            last = last_event_id(catalog)
            seen = sorted(i for i, _ in available_since(catalog, max(0, last - OVERLAP_IDS)))
            return dg.SensorResult(cursor=json.dumps({"after": last, "seen": seen}),
                                   skip_reason="started watching the build event log")
        cursor = json.loads(context.cursor)
        after, seen = int(cursor["after"]), set(cursor.get("seen", ()))
        events = available_since(catalog, max(0, after - OVERLAP_IDS))
        refs, high, keep = next_events(events, seen)
        in_flight = in_flight_refs(graph, context.instance)
        refs, pending = settle([r for r in refs if _parses(graph.registry, r)],
                               cursor.get("pending", ()), in_flight)
        new_cursor = json.dumps({"after": max(after, high), "seen": sorted(keep),
                                 "pending": pending})
        if not refs:
            return dg.SensorResult(cursor=new_cursor, skip_reason="no partition became live"
                                   + (f" ({len(pending)} in running runs)" if pending else ""))
        cands = candidates(graph.registry, lineage, refs, window_days)
        for readers in readers_of(catalog, refs).values():
            for r in readers:
                if _parses(graph.registry, r):
                    cands.setdefault(graph.registry.job_for(r).label, set()).add(r)
        batches, skipped = decide_propagation(graph.registry, refs, cands, graph.status,
                                              in_flight)
        requests, dynamic = run_requests(graph, batches, "propagate")
        context.log.info(f"{len(refs)} partition(s) became live; {len(requests)} run(s) for "
                         f"{sum(len(b.refs) for b in batches)} dependent(s); "
                         f"{len(skipped)} not ready")
        return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=dynamic or None,
                               cursor=new_cursor,
                               skip_reason=None if requests else "no dependent is ready")

    return _sensor


def _parses(registry: Registry, ref: str) -> bool:
    try:
        registry.parse(ref)
        return True
    except DatabuildError:
        return False
