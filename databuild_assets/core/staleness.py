"""Per-partition status and staleness, with the chain of causes.

Pure: ``Assessor`` works on a ``Snapshot`` of catalog rows, manifest facts, taints, live
builds and damaged files. The runtime fills it (``status.py`` reads the catalog, following
manifest provenance upstream in batched queries, and checks data files with the store's
callable), so nothing here imports the catalog or the data store.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from . import versions
from .config import DepType
from .errors import RefError
from .facts import ManifestFacts, PartitionRow
from .manifest import PartitionManifest
from .registry import Registry
from .states import PartitionState

_MAT = DepType.MATERIALIZE.value
# A Status carries the plain string of its state: it leaves the core as JSON and as Dagster
# metadata (whose serializer refuses unregistered Enums), and exact str compares fastest in
# the per-partition loops. They equal the PartitionState members all the same.
MISSING, BUILDING, LIVE, STALE, FAILED, TAINTED, DAMAGED = (
    PartitionState.MISSING.value, PartitionState.BUILDING.value, PartitionState.LIVE.value,
    PartitionState.STALE.value, PartitionState.FAILED.value, PartitionState.TAINTED.value,
    PartitionState.DAMAGED.value)
# what a data file check says of (path, size): None when intact, else what is wrong
FileCheck = Callable[[str, "int | None"], "str | None"]


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
    def label(self) -> str:
        """The state as shown to people: ``live (last rebuild failed: ...)``."""
        if self.state == LIVE and self.last_error:
            return f"live (last rebuild failed: {self.last_error})"
        return self.state

    def to_json(self) -> dict:
        return {"ref": self.ref, "state": self.state, "reasons": list(self.reasons),
                "manifest_id": self.manifest_id, "data_version": self.data_version,
                "owner": self.owner, "last_error": self.last_error, "label": self.label}


def _live(ref: str, manifest_id: str, data_version: str) -> Status:
    """Status(ref, LIVE, (), manifest_id, data_version), built without the frozen
    dataclass's per-field __setattr__: most partitions of a big status are live."""
    st = object.__new__(Status)
    st.__dict__.update(ref=ref, state=LIVE, reasons=(), manifest_id=manifest_id,
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


def check_damage(damage: FileCheck, snap: Snapshot, refs) -> None:
    """Note which of ``refs``' current manifests have a missing or resized data file
    (``damage``: the data store's check)."""
    rows, manifests = snap.rows, snap.manifests
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
            return Status(ref, LIVE)
        self._active.add(ref)
        try:
            st = self._assess(ref)
        finally:
            self._active.discard(ref)
        self.memo[ref] = st
        return st

    def _assess(self, ref: str) -> Status:
        row = self.snap.rows.get(ref)
        if row is None or row.state == MISSING:
            return Status(ref, MISSING, ("never built",) if row is None else ("not built",))
        state = row.state
        if state == BUILDING:
            mine = self.own_build is not None and row.owner == self.own_build
            if not mine and row.owner in self.snap.alive:
                return Status(ref, BUILDING, (f"being built by build {row.owner}",),
                              row.manifest_id, row.data_version, row.owner)
            # our own claim, or a dead build's: judge what was there before the claim
            state = row.prev_state or (LIVE if row.manifest_id else MISSING)
            if state == MISSING:
                why = "not built" if mine else f"build {row.owner} died before finishing it"
                return Status(ref, MISSING, (why,))
            if state == BUILDING:
                state = LIVE if row.manifest_id else MISSING
        if state == FAILED:
            return Status(ref, FAILED, (row.error or "failed",), row.manifest_id,
                          row.data_version)
        if state == DAMAGED:  # a reader found its file broken
            return Status(ref, DAMAGED, (row.error or "damaged",), row.manifest_id,
                          row.data_version)
        m = self.snap.manifests.get(row.manifest_id)
        if m is None:
            return Status(ref, MISSING, ("catalog row has no manifest",))
        if m.manifest_id in self.snap.damaged:
            return Status(ref, DAMAGED, (f"damaged: {self.snap.damaged[m.manifest_id]}",),
                          m.manifest_id, m.data_version)
        if m.manifest_id in self.snap.taints:
            return Status(ref, TAINTED, (f"tainted: {self.snap.taints[m.manifest_id]}",),
                          m.manifest_id, m.data_version)
        reasons = self._own_reasons(ref, m) + self._input_reasons(m)
        if reasons:
            return Status(ref, STALE, tuple(reasons), m.manifest_id, m.data_version,
                          last_error=row.error)
        if row.error:  # the last rebuild failed; the version before it is still live
            return Status(ref, LIVE, (), m.manifest_id, m.data_version, last_error=row.error)
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
        memo, taints, live = self.memo, self.snap.taints, LIVE
        for ref, mid, dv in (m.mat if type(m) is ManifestFacts else mat_of(m)):
            if taints and mid in taints:
                reasons.append(f"input {ref} was read at a tainted version: {taints[mid]}")
                continue
            up = memo.get(ref) or self(ref)
            if up.state == live and up.data_version == dv:  # the common case: fresh input
                continue
            if up.state in (MISSING, FAILED):
                reasons.append(f"input {ref} is {up.state}")
            elif up.data_version != dv:
                reasons.append(f"input {ref} changed (data version "
                               f"{(dv or '-')[:8]} -> {(up.data_version or '-')[:8]})")
            elif up.state in (STALE, TAINTED):
                reasons.append(f"input {ref} is {up.state}: {up.reasons[0]}")
        return reasons


SOURCE_VERSION_KEY = "databuild/source_version"
