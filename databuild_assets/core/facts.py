"""What the store hands to the pure core: a partition's catalog row and the facts of a
manifest staleness reads. Defined here, below the store, so staleness judges them without
importing the catalog (the runtime fills a ``staleness.Snapshot`` with them)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class PartitionRow:
    """A row of ``partitions``; ``state`` is a ``states.PartitionState`` value as stored."""

    ref: str
    dataset: str
    state: str
    manifest_id: str | None = None
    data_version: str | None = None
    owner: str | None = None
    updated_at: float = 0.0
    error: str | None = None
    attempts: int = 0
    prev_state: str | None = None


class InputFacts(NamedTuple):
    """What staleness needs of an input record (same attribute names as InputRecord)."""

    ref: str
    dep_type: str
    manifest_id: str | None
    data_version: str | None


class ManifestFacts(NamedTuple):
    """What staleness needs of a manifest (same attribute names as PartitionManifest).
    ``mat``: its MATERIALIZE inputs (QUERY inputs never make it stale) as [ref, manifest
    id, data version] sequences, as parsed: no object per input of a 100k status."""

    manifest_id: str
    code_version: str
    dataset_version: str
    data_version: str
    mat: tuple | list
    path: str | None = None
    size: int | None = None

    @property
    def inputs(self) -> tuple[InputFacts, ...]:
        return tuple(InputFacts(r, "materialize", mid, dv) for r, mid, dv in self.mat)
