"""Per-partition status and staleness, with the chain of causes.

``assess`` is pure: it works on a ``Snapshot`` of catalog rows, manifests and taints.
``load_snapshot`` fills one from the catalog, following manifest provenance upstream in
batched queries, so statuses of many partitions cost a handful of round trips.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from . import versions
from .catalog import Catalog, ManifestFacts, PartitionRow
from .config import DepType
from .errors import RefError
from .manifest import PartitionManifest
from .registry import Registry
from .storage import DataStore

STATES = ("missing", "building", "live", "stale", "failed", "tainted", "damaged")
_MAT = DepType.MATERIALIZE.value


@contextmanager
def gc_paused() -> Iterator[None]:
    """Planning and assessing allocate millions of small acyclic objects; the cyclic
    collector would rescan them over and over (a third of the time of a 100k-ref plan).
    Refcounting still frees everything; the collector resumes afterwards."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@dataclass(frozen=True)
class Status:
    ref: str
    state: str
    reasons: tuple[str, ...] = ()
    manifest_id: str | None = None
    data_version: str | None = None
    owner: str | None = None
    last_error: str | None = None  # a live partition whose last rebuild failed

    @property
    def is_fresh(self) -> bool:
        return self.state == "live"

    @property
    def label(self) -> str:
        """The state as shown to people: ``live (last rebuild failed: ...)``."""
        if self.state == "live" and self.last_error:
            return f"live (last rebuild failed: {self.last_error})"
        return self.state

    def to_json(self) -> dict:
        return {"ref": self.ref, "state": self.state, "reasons": list(self.reasons),
                "manifest_id": self.manifest_id, "data_version": self.data_version,
                "owner": self.owner, "last_error": self.last_error, "label": self.label}


def _live(ref: str, manifest_id: str, data_version: str) -> Status:
    """Status(ref, "live", (), manifest_id, data_version), built without the frozen
    dataclass's per-field __setattr__: most partitions of a big status are live."""
    st = object.__new__(Status)
    st.__dict__.update(ref=ref, state="live", reasons=(), manifest_id=manifest_id,
                       data_version=data_version, owner=None, last_error=None)
    return st


@dataclass
class Snapshot:
    rows: dict[str, PartitionRow] = field(default_factory=dict)
    # PartitionManifest or the lighter ManifestFacts the catalog reads for staleness
    manifests: dict[str, PartitionManifest | ManifestFacts] = field(default_factory=dict)
    taints: dict[str, str] = field(default_factory=dict)
    alive: set[str] = field(default_factory=set)  # builds whose claims still hold
    observed: dict[str, str] = field(default_factory=dict)  # ref -> source version now
    recorded: dict[str, str] = field(default_factory=dict)  # manifest id -> source version read
    damaged: dict[str, str] = field(default_factory=dict)  # manifest id -> what is wrong


def check_damage(store: DataStore, snap: Snapshot, refs) -> None:
    """Note which of ``refs``' current manifests have a missing or resized data file."""
    rows, manifests, damage = snap.rows, snap.manifests, store.damage
    for r in refs:
        row = rows.get(r)
        m = manifests.get(row.manifest_id) if row is not None and row.manifest_id else None
        path = getattr(m, "path", None) if m is not None else None
        if path:
            why = damage(path, getattr(m, "size", None))
            if why:
                snap.damaged[m.manifest_id] = why


def mat_of(m: PartitionManifest | ManifestFacts):
    """A manifest's MATERIALIZE inputs as (ref, manifest id, data version) sequences."""
    if type(m) is ManifestFacts:
        return m.mat
    return [(i.ref, i.manifest_id, i.data_version) for i in m.inputs if i.dep_type == _MAT]


def load_snapshot(catalog: Catalog, refs, snap: Snapshot | None = None) -> Snapshot:
    snap = snap or Snapshot()
    frontier = set(refs) - set(snap.rows)
    seen: set[str] = set(snap.rows)
    owners: set[str] = set()
    while frontier:
        rows = catalog.partitions(frontier)
        seen |= frontier
        snap.rows.update(rows)
        owners |= {r.owner for r in rows.values() if r.state == "building" and r.owner}
        ids = [r.manifest_id for r in rows.values() if r.manifest_id]
        new = catalog.manifest_facts(i for i in ids if i not in snap.manifests)
        snap.manifests.update(new)
        frontier = {rec[0] for m in new.values() for rec in m.mat} - seen
    if catalog.any_taints():  # usually none: skip collecting every input's manifest id
        ids = set(snap.manifests)
        ids.update(rec[1] for m in snap.manifests.values() for rec in mat_of(m) if rec[1])
        snap.taints.update(catalog.taints(ids))
    snap.alive |= catalog.alive_builds(owners)
    return snap


class Assessor:
    """Memoized recursive assessment over one snapshot."""

    def __init__(self, registry: Registry, snap: Snapshot, own_build: str | None = None):
        self.registry = registry
        self.own_build = own_build
        self.snap = snap
        self.memo: dict[str, Status] = {}
        self._active: set[str] = set()
        self._datasets: dict[str, tuple] = {}  # dataset -> (pattern, job, code) or ()
        self._majors: dict[str | None, int | None] = {}
        self._versions: dict[tuple, list[str]] = {}  # (dataset, its version, code) -> reasons

    def __call__(self, ref: str) -> Status:
        st = self.memo.get(ref)
        if st is not None:
            return st
        if ref in self._active:  # provenance should never loop; do not recurse forever
            return Status(ref, "live")
        self._active.add(ref)
        try:
            st = self._assess(ref)
        finally:
            self._active.discard(ref)
        self.memo[ref] = st
        return st

    def _assess(self, ref: str) -> Status:
        row = self.snap.rows.get(ref)
        if row is None or row.state == "missing":
            return Status(ref, "missing", ("never built",) if row is None else ("not built",))
        state = row.state
        if state == "building":
            mine = self.own_build is not None and row.owner == self.own_build
            if not mine and row.owner in self.snap.alive:
                return Status(ref, "building", (f"being built by build {row.owner}",),
                              row.manifest_id, row.data_version, row.owner)
            # our own claim, or a dead build's: judge what was there before the claim
            state = row.prev_state or ("live" if row.manifest_id else "missing")
            if state == "missing":
                why = "not built" if mine else f"build {row.owner} died before finishing it"
                return Status(ref, "missing", (why,))
            if state == "building":
                state = "live" if row.manifest_id else "missing"
        if state == "failed":
            return Status(ref, "failed", (row.error or "failed",), row.manifest_id,
                          row.data_version)
        if state == "damaged":  # a reader found its file broken
            return Status(ref, "damaged", (row.error or "damaged",), row.manifest_id,
                          row.data_version)
        m = self.snap.manifests.get(row.manifest_id)
        if m is None:
            return Status(ref, "missing", ("catalog row has no manifest",))
        if m.manifest_id in self.snap.damaged:
            return Status(ref, "damaged", (f"damaged: {self.snap.damaged[m.manifest_id]}",),
                          m.manifest_id, m.data_version)
        if m.manifest_id in self.snap.taints:
            return Status(ref, "tainted", (f"tainted: {self.snap.taints[m.manifest_id]}",),
                          m.manifest_id, m.data_version)
        reasons = self._own_reasons(ref, m) + self._input_reasons(m)
        if reasons:
            return Status(ref, "stale", tuple(reasons), m.manifest_id, m.data_version,
                          last_error=row.error)
        if row.error:  # the last rebuild failed; the version before it is still live
            return Status(ref, "live", (), m.manifest_id, m.data_version, last_error=row.error)
        return _live(ref, m.manifest_id, m.data_version)

    def _producer(self, ref: str) -> tuple:
        ds = self.registry._longest_prefix(ref)
        if ds not in self._datasets:
            try:
                pattern = self.registry.pattern(ref)
                job = self.registry.producer[pattern.dataset]
                code = str(job.code_version) if job.invalidate_on_code_change else None
                self._datasets[ds] = (pattern, job, code)
            except RefError:  # a ref no job produces: judged missing elsewhere
                self._datasets[ds] = ()
        return self._datasets[ds]

    def _own_reasons(self, ref: str, m: PartitionManifest) -> list[str]:
        # what the dataset and code versions say depends on those alone: judged once each
        key = (self.registry._longest_prefix(ref), m.dataset_version, m.code_version)
        reasons = self._versions.get(key)
        if reasons is None:
            reasons = self._versions[key] = self._version_reasons(ref, m)
        now = self.snap.observed.get(ref) if self.snap.observed else None
        if now is not None and self.snap.recorded.get(m.manifest_id) != now:
            was = (self.snap.recorded.get(m.manifest_id) or "-")[:8]
            return [*reasons, f"source of {ref} changed (observed {was} -> {now[:8]})"]
        return list(reasons) if reasons else reasons

    def _version_reasons(self, ref: str, m: PartitionManifest) -> list[str]:
        reasons: list[str] = []
        known = self._producer(ref)
        if not known:
            return reasons
        pattern, job, code = known
        if m.dataset_version not in self._majors:
            self._majors[m.dataset_version] = versions.major_of(m.dataset_version)
        old_major = self._majors[m.dataset_version]
        if old_major != pattern.major:  # up or down (a rollback): the data's shape differs
            reasons.append(f"dataset {pattern.dataset} major version changed "
                           f"{m.dataset_version} -> {pattern.version}")
        if code is not None and code != m.code_version and versions.invalidates(
                m.code_version, code):
            reasons.append(f"code version of job {job.label} changed "
                           f"{m.code_version} -> {job.code_version}")
        return reasons

    def _input_reasons(self, m: PartitionManifest) -> list[str]:
        reasons = []
        memo, taints = self.memo, self.snap.taints
        for ref, mid, dv in (m.mat if type(m) is ManifestFacts else mat_of(m)):
            if taints and mid in taints:
                reasons.append(f"input {ref} was read at a tainted version: {taints[mid]}")
                continue
            up = memo.get(ref) or self(ref)
            if up.state == "live" and up.data_version == dv:  # the common case: fresh input
                continue
            if up.state in ("missing", "failed"):
                reasons.append(f"input {ref} is {up.state}")
            elif up.data_version != dv:
                reasons.append(f"input {ref} changed (data version "
                               f"{(dv or '-')[:8]} -> {(up.data_version or '-')[:8]})")
            elif up.state in ("stale", "tainted"):
                reasons.append(f"input {ref} is {up.state}: {up.reasons[0]}")
        return reasons


def observe_sources(registry: Registry, catalog: Catalog, snap: Snapshot) -> None:
    """Ask source jobs (those defining observe()) what their inputs look like now, e.g. the
    hash of a landing file, and fetch what each live partition recorded when it was built."""
    from .job import Job

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


SOURCE_VERSION_KEY = "databuild/source_version"


def assess_all(registry: Registry, catalog: Catalog, refs,
               own_build: str | None = None, store: DataStore | None = None) -> dict[str, Status]:
    """``store``: check the requested refs' data files too (missing or resized: damaged)."""
    refs = list(refs)
    with gc_paused():
        snap = load_snapshot(catalog, refs)
        if store is not None:
            check_damage(store, snap, refs)
        observe_sources(registry, catalog, snap)
        assess = Assessor(registry, snap, own_build)
        out = {r: assess(r) for r in refs}
        del assess, snap  # free the snapshot by refcount before the collector resumes
    return out
