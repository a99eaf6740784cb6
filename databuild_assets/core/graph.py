"""Graph: the jobs of a project bound to a catalog and a data root."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .catalog import Catalog
from .errors import DefinitionError, RefError
from .manifest import PartitionManifest
from .planner import JobGraph, plan
from .refs import check_refs
from .registry import Registry
from .staleness import Status
from .status import assess_all
from .storage import DataStore

_UNBOUND = ("graph {name!r} has no {what}: pass it (Graph(..., catalog=..., data_root=...), "
            "graph.bind(...)) or load the graph through an entry point (the databuild CLI, the "
            "Dagster code location), which binds DATABUILD_CATALOG_URL / DATABUILD_DATA_ROOT")


class Graph:
    """Jobs bound to a catalog and a data root, both opened lazily (never at import).

    A graph may bind its own (``Graph(jobs, catalog=..., data_root=...)``); the entry points
    fill what it leaves unbound from the settings (:meth:`with_defaults`). ``job_timeout``:
    seconds a job may run unless it sets its own timeout (None: ``DEFAULT_TIMEOUT``)."""

    def __init__(self, jobs: Iterable, catalog: Catalog | str | None = None,
                 data_root: str | os.PathLike | None = None, name: str = "graph",
                 job_timeout: float | None = None):
        self.jobs = list(jobs)
        self.registry = Registry(self.jobs)
        self.name = name
        self.job_timeout = job_timeout
        self._catalog = catalog
        self._data_root = data_root

    # -- binding --------------------------------------------------------------------------
    def bind(self, catalog: Catalog | str | None = None,
             data_root: str | os.PathLike | None = None,
             job_timeout: float | None = None) -> Graph:
        """A copy of this graph on another catalog, data root and/or job timeout."""
        return Graph(self.jobs, catalog or self._catalog, data_root or self._data_root,
                     self.name, job_timeout or self.job_timeout)

    def with_defaults(self, catalog: Catalog | str | None = None,
                      data_root: str | os.PathLike | None = None,
                      job_timeout: float | None = None) -> Graph:
        """A copy where what this graph leaves unbound comes from the caller (an entry point
        passing its settings); what it binds itself stays."""
        return Graph(self.jobs, self._catalog or catalog, self._data_root or data_root,
                     self.name, self.job_timeout or job_timeout)

    @property
    def catalog(self) -> Catalog:
        if not isinstance(self._catalog, Catalog):
            if not self._catalog:
                raise DefinitionError(_UNBOUND.format(what="catalog", name=self.name))
            self._catalog = Catalog.open(self._catalog)
        return self._catalog

    @property
    def data_root(self) -> Path:
        if self._data_root is None:
            raise DefinitionError(_UNBOUND.format(what="data root", name=self.name))
        return Path(self._data_root)

    @property
    def store(self) -> DataStore:
        return DataStore(self.data_root)

    @property
    def patterns(self):
        return self.registry.patterns

    # -- questions ------------------------------------------------------------------------
    def lookup(self, refs: Iterable[str]) -> dict[str, list[str]]:
        return self.registry.lookup(refs)

    def status(self, refs: Iterable[str], own_build: str | None = None) -> dict[str, Status]:
        refs = check_refs(refs)
        self.registry.check(refs)
        return assess_all(self.registry, self.catalog, refs, own_build, self.store)

    def plan(self, refs: Iterable[str], force: bool = False, own_build: str | None = None,
             upstream: bool = True) -> JobGraph:
        refs = check_refs(refs)
        # the planner hands status only refs it has checked: no second check_refs/check
        return plan(self.registry, lambda rs: assess_all(self.registry, self.catalog, rs,
                                                         own_build, self.store),
                    refs, force=force, own_build=own_build, upstream=upstream)

    def known_refs(self, dataset: str | None = None) -> list[str]:
        return [r.ref for r in self.catalog.partitions_of(dataset)]

    # -- actions --------------------------------------------------------------------------
    def execute(self, refs: Iterable[str], force: bool = False,
                **kwargs) -> list[PartitionManifest]:
        from .build import run_build

        return run_build(self, check_refs(refs), force=force, **kwargs).manifests

    def build(self, refs: Iterable[str], force: bool = False, **kwargs):
        from .build import run_build

        return run_build(self, check_refs(refs), force=force, **kwargs)

    def taint(self, ref: str, reason: str) -> Status:
        self.registry.parse(ref)
        row = self.catalog.partitions([ref]).get(ref)
        if row is None or not row.manifest_id:
            raise RefError(f"cannot taint {ref!r}: it has never been built, so there is "
                           "nothing to taint")
        self.catalog.taint(ref, row.manifest_id, reason)
        return self.status([ref])[ref]
