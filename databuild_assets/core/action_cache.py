"""The action cache: reuse an earlier execution instead of running a job again.

The action key of an output is its job's config hash, the job's code version and the data
versions of the inputs it reads. When an earlier manifest of the same ref has the same key
(typically after code was reverted), its data file is still on disk and intact, and it is
neither tainted nor read a tainted input, the build republishes that manifest instead of
running the job. Jobs that observe outside sources are never cached: their key would have
to include the outside world.
"""

from __future__ import annotations

from .errors import DatabuildError
from .inputs import Inputs
from .job import Job
from .manifest import PartitionManifest
from .storage import DamagedDataError
from .versions import major_of


def _key(records) -> frozenset:
    return frozenset((r.ref, r.dep_type, r.data_version) for r in records)


def lookup(graph, job: Job, config, never_built=frozenset()) -> list[PartitionManifest] | None:
    """A reusable manifest for every output of ``config``, or None (then the job runs).
    ``never_built``: refs the plan found without any catalog row (no query needed)."""
    if type(job).observe is not Job.observe or config.outputs & never_built:
        return None
    catalog, store, registry = graph.catalog, graph.store, graph.registry
    from .executor import _records_for

    found = catalog.action_candidates(config.outputs, config.hash, str(job.code_version))
    candidates = {r: found.get(r, []) for r in sorted(config.outputs)}
    if not all(candidates.values()):  # the common case: nothing to reuse, one query
        return None
    try:
        inputs = Inputs(catalog, store, config)
    except DatabuildError:
        return None
    records = inputs.records()
    ids = {m.manifest_id for ms in candidates.values() for m in ms}
    ids |= {i.manifest_id for ms in candidates.values() for m in ms for i in m.inputs
            if i.manifest_id}
    tainted = set(catalog.taints(ids))
    hits = []
    for ref, ms in candidates.items():
        wanted = _key(_records_for(job, config, ref, records))
        major = registry.patterns[registry.dataset(ref)].major
        hit = None
        for m in ms:
            if (major_of(m.dataset_version) != major or _key(m.inputs) != wanted
                    or m.manifest_id in tainted
                    or any(i.manifest_id in tainted for i in m.inputs)):
                continue
            try:
                store.read_verified(m.path, m.size, m.data_version)
            except DamagedDataError:
                continue
            hit = m
            break
        if hit is None:
            return None
        hits.append(hit)
    return hits
