"""Partition status from the catalog and the data files: fills a staleness ``Snapshot`` and
assesses it.

The runtime side of staleness: ``load_snapshot`` follows manifest provenance upstream in
batched catalog reads, so statuses of many partitions cost a handful of round trips; the
data store's file check and source jobs' ``observe()`` add what the catalog cannot know.
"""

from __future__ import annotations

from .catalog import Catalog
from .errors import RefError
from .job import Job
from .registry import Registry
from .staleness import (
    BUILDING,
    SOURCE_VERSION_KEY,
    Assessor,
    Snapshot,
    Status,
    check_damage,
    gc_paused,
    mat_of,
)
from .storage import DataStore


def load_snapshot(catalog: Catalog, refs, snap: Snapshot | None = None) -> Snapshot:
    snap = snap or Snapshot()
    frontier = set(refs) - set(snap.rows)
    seen: set[str] = set(snap.rows)
    owners: set[str] = set()
    while frontier:
        # rows and their manifests' facts in one joined read per chunk of refs
        rows, new = catalog.partition_facts(frontier)
        seen |= frontier
        snap.rows.update(rows)
        owners |= {r.owner for r in rows.values() if r.state == BUILDING and r.owner}
        snap.manifests.update(new)
        frontier = {rec[0] for m in new.values() for rec in m.mat} - seen
    if catalog.any_taints():  # usually none: skip collecting every input's manifest id
        ids = set(snap.manifests)
        ids.update(rec[1] for m in snap.manifests.values() for rec in mat_of(m) if rec[1])
        snap.taints.update(catalog.taints(ids))
    snap.alive |= catalog.alive_builds(owners)
    return snap


def observe_sources(registry: Registry, catalog: Catalog, snap: Snapshot) -> None:
    """Ask source jobs (those defining observe()) what their inputs look like now, e.g. the
    hash of a landing file, and fetch what each live partition recorded when it was built."""
    ids = {}
    if all(type(job).observe is Job.observe for job in registry.jobs.values()):
        return  # no source job observes anything: nothing to look at
    for ref, row in snap.rows.items():
        try:
            job = registry.producer[registry.dataset(ref)]
        except RefError:  # not a ref of this graph: nothing to observe
            continue
        if type(job).observe is Job.observe or not row.manifest_id:
            continue
        version = job.observe(ref)
        if version is not None:
            snap.observed[ref] = version
            ids[row.manifest_id] = ref
    for mid, m in catalog.manifests(ids).items():
        snap.recorded[mid] = (m.metadata or {}).get(SOURCE_VERSION_KEY)


def assess_all(registry: Registry, catalog: Catalog, refs,
               own_build: str | None = None, store: DataStore | None = None) -> dict[str, Status]:
    """``store``: check the requested refs' data files too (missing or resized: damaged)."""
    refs = list(refs)
    with gc_paused():
        snap = load_snapshot(catalog, refs)
        if store is not None:
            check_damage(store.damage, snap, refs)
        observe_sources(registry, catalog, snap)
        assess = Assessor(registry, snap, own_build)
        out = {r: assess(r) for r in refs}
        del assess, snap  # free the snapshot by refcount before the collector resumes
    return out
