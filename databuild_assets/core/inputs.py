"""What a job reads: the published version of each input, checked before it is handed out.

An input is readable when it has a published manifest: live, or claimed by a build that
may yet replace it (a claim is transient, the published version stays readable until a
new one is committed). A MATERIALIZE input with no published manifest is missing. A QUERY
input is read only at a live, untainted, intact version; otherwise it is absent (None)
and the manifest records why.
"""

from __future__ import annotations

from .catalog import Catalog, PartitionRow
from .config import DepType, JobConfig
from .errors import DatabuildError, MissingInputError
from .manifest import InputRecord
from .storage import DamagedDataError, DataStore

ABSENT_KEY = "databuild/absent_query_inputs"  # manifest metadata: QUERY ref -> why not read


class DamagedInputError(DatabuildError):
    """An input's data file is missing or is not what its manifest records."""

    def __init__(self, ref: str, why: str):
        self.ref, self.why = ref, why
        super().__init__(f"input {ref} is damaged: {why}; rebuild it with: databuild build {ref}")


def published(row: PartitionRow | None) -> bool:
    if row is None or not row.manifest_id:
        return False
    return row.state == "live" or (row.state == "building" and (row.prev_state or "live") == "live")


class Inputs(dict):
    """The resolved inputs of one config, ``{ref: (InputRecord, manifest or None)}``, with
    checked reads. Reads use no catalog (they may run in the job's child process); the
    build marks a damaged input in the catalog afterwards (``mark_damaged``)."""

    def __init__(self, catalog: Catalog, store: DataStore, config: JobConfig):
        super().__init__()
        self.store = store
        rows = catalog.partitions(d.ref for d in config.inputs)
        live = {r: row for r, row in rows.items() if published(row)}
        missing = [r for r in config.materialize_inputs if r not in live]
        if missing:
            raise MissingInputError(missing, reasons={
                r: (rows[r].state if r in rows else "missing",) for r in missing})
        manifests = catalog.manifests(row.manifest_id for row in live.values())
        query = {d.ref for d in config.inputs if d.dep_type is DepType.QUERY}
        taints = catalog.taints(live[r].manifest_id for r in query if r in live)
        self.absent: dict[str, str] = {}
        self.materialize = set(config.materialize_inputs)
        for d in config.inputs:
            row = live.get(d.ref)
            m = manifests.get(row.manifest_id) if row else None
            if d.ref in query and m is not None:
                why = (f"tainted: {taints[m.manifest_id]}" if m.manifest_id in taints
                       else self.store.damage(m.path, m.size))
                if why:
                    self.absent[d.ref], m = why, None
            elif d.ref in query:
                self.absent[d.ref] = "not live"
            self[d.ref] = (InputRecord(d.ref, d.dep_type.value,
                                              m.manifest_id if m else None,
                                              m.data_version if m else None), m)

    def records(self) -> tuple[InputRecord, ...]:
        return tuple(sorted((rec for rec, _ in self.values()), key=lambda r: r.ref))

    def read(self, ref: str):
        _rec, m = self[ref]
        if m is None:
            return None
        try:
            return self.store.read_verified(m.path, m.size, m.data_version)
        except DamagedDataError as e:
            raise DamagedInputError(ref, str(e)) from None

    def path(self, ref: str):
        _rec, m = self[ref]
        if m is None:
            return None
        why = self.store.damage(m.path, m.size)
        if why:
            raise DamagedInputError(ref, why)
        return self.store.abspath(m.path)

    def mark_damaged(self, catalog: Catalog, errors) -> None:
        """After a failed run: inputs a failure message names as damaged are checked here
        and, when really broken, marked so that the next plan rebuilds them."""
        text = "\n".join(errors)
        for ref in sorted(self.materialize):
            _rec, m = self[ref]
            if m is None or f"input {ref} is damaged" not in text:
                continue
            try:
                self.store.read_verified(m.path, m.size, m.data_version)
            except DamagedDataError as e:
                catalog.mark_damaged(ref, m.manifest_id, str(e))
