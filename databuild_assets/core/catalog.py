"""The catalog: partitions, manifests, taints, builds and the build event log.

SQLite (a file, the default) or PostgreSQL (its own schema) through SQLAlchemy Core.
Every state change that matters is one transaction: a partition becomes live in the same
transaction that stores its manifest.

``Catalog`` is the one face of the store; each part lives in a module named after what it
holds: the database (``catalog_engine``), ``catalog_partitions``, ``catalog_builds`` (and
their claims), ``catalog_manifests``, ``catalog_taints``, ``catalog_events`` and the
automation tables (``catalog_automation``, used by ``wants.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager

import sqlalchemy as sa

from . import catalog_configs as cc
from .catalog_automation import AutomationTables
from .catalog_builds import HOST, LEASE_SECONDS, Builds
from .catalog_engine import Database, open_engines
from .catalog_events import Event, EventLog
from .catalog_manifests import Manifests
from .catalog_partitions import Partitions
from .catalog_taints import Taints
from .facts import InputFacts, ManifestFacts, PartitionRow
from .manifest import PartitionManifest
from .states import BuildState

__all__ = ["HOST", "LEASE_SECONDS", "Catalog", "Event", "InputFacts", "ManifestFacts",
           "PartitionRow"]


class Catalog:
    """Open with ``Catalog.open(url)``; ``sqlite:///path`` or ``postgresql://...``."""

    def __init__(self, engine: sa.Engine, url: str, read_engine: sa.Engine | None = None,
                 raw_url: str | None = None):
        self.db = db = Database(engine, url, read_engine, raw_url)
        configs = cc.ConfigTexts()  # shared: what one part stored, another need not read
        self._events = EventLog(db)
        self._builds = Builds(db, self._events)
        self._partitions = Partitions(db, self._events, configs)
        self._manifests = Manifests(db, configs)
        self._taints = Taints(db, self._events)
        self.automation = AutomationTables(db, self._events)
        db.migrate()

    @classmethod
    def open(cls, url: str) -> Catalog:
        engine, shown, read_engine = open_engines(url)
        return cls(engine, shown, read_engine, raw_url=url)

    # -- the database ---------------------------------------------------------------------
    @property
    def engine(self) -> sa.Engine:
        return self.db.engine

    @property
    def url(self) -> str:
        """The URL without its password (for messages)."""
        return self.db.url

    @property
    def _raw_url(self) -> str:  # the URL as given, password included
        return self.db.raw_url

    @property
    def dialect(self) -> str:
        return self.db.dialect

    def shareable_url(self) -> str:
        """The URL to hand to another process, unless it embeds a password (then '')."""
        return self.db.shareable_url()

    def tx(self) -> AbstractContextManager[sa.Connection]:
        return self.db.tx()

    def _read(self) -> AbstractContextManager[sa.Connection]:
        return self.db.read()

    def schema_version(self) -> int:
        return self.db.schema_version()

    def dispose(self) -> None:
        self.db.dispose()

    # -- builds and their claims ----------------------------------------------------------
    def start_build(self, build_id: str, requested: list[str], origin: str = "api",
                    events: Iterable[Event] = (), status: str = BuildState.RUNNING) -> None:
        self._builds.start_build(build_id, requested, origin, events, status)

    def heartbeat(self, build_id: str) -> None:
        self._builds.heartbeat(build_id)

    def finish_build(self, build_id: str, status: str) -> None:
        self._builds.finish_build(build_id, status)

    def builds(self, limit: int = 50) -> list[dict]:
        return self._builds.builds(limit)

    def build_statuses(self, build_ids: Iterable[str]) -> dict[str, str]:
        return self._builds.build_statuses(build_ids)

    def alive_builds(self, build_ids: Iterable[str]) -> set[str]:
        return self._builds.alive_builds(build_ids)

    def claim(self, refs: dict[str, str], build_id: str) -> str | None:
        return self._builds.claim(refs, build_id)

    def release(self, refs: Iterable[str], build_id: str) -> None:
        self._builds.release(refs, build_id)

    # -- partitions -----------------------------------------------------------------------
    def partitions(self, refs: Iterable[str]) -> dict[str, PartitionRow]:
        return self._partitions.partitions(refs)

    def partitions_of(self, dataset: str | None = None) -> list[PartitionRow]:
        return self._partitions.partitions_of(dataset)

    def commit(self, manifest: PartitionManifest, dataset: str,
               events: Iterable[Event] = ()) -> None:
        """Store the manifest and make the partition live, atomically (through commit_many, so
        one method sees every commit)."""
        self.commit_many([(manifest, dataset)], events)

    def commit_many(self, items: Iterable[tuple[PartitionManifest, str]],
                    events: Iterable[Event] = ()) -> None:
        self._partitions.commit_many(items, events)

    def fail(self, refs: dict[str, str], build_id: str, error: str,
             events: Iterable[Event] = ()) -> None:
        self._partitions.fail(refs, build_id, error, events)

    def mark_damaged(self, ref: str, manifest_id: str, why: str) -> None:
        self._partitions.mark_damaged(ref, manifest_id, why)

    def republish(self, manifest: PartitionManifest, dataset: str,
                  events: Iterable[Event] = ()) -> None:
        self._partitions.republish(manifest, dataset, events)

    # -- manifests and taints -------------------------------------------------------------
    def manifests(self, ids: Iterable[str]) -> dict[str, PartitionManifest]:
        return self._manifests.manifests(ids)

    def manifest_facts(self, ids: Iterable[str]) -> dict[str, ManifestFacts]:
        return self._manifests.manifest_facts(ids)

    def partition_facts(self, refs: Iterable[str]
                        ) -> tuple[dict[str, PartitionRow], dict[str, ManifestFacts]]:
        """``partitions(refs)`` and the ``manifest_facts`` of their manifests, read at once."""
        return self._manifests.partition_facts(refs)

    def manifest_history(self, ref: str | None = None, dataset: str | None = None,
                         limit: int = 50) -> list[PartitionManifest]:
        return self._manifests.manifest_history(ref, dataset, limit)

    def action_candidates(self, refs: Iterable[str], config_hash: str, code_version: str,
                          limit: int = 10) -> dict[str, list[PartitionManifest]]:
        return self._manifests.action_candidates(refs, config_hash, code_version, limit)

    def taint(self, ref: str, manifest_id: str, reason: str, build_id: str = "taint") -> None:
        self._taints.taint(ref, manifest_id, reason, build_id)

    def any_taints(self) -> bool:
        return self._taints.any_taints()

    def taints(self, manifest_ids: Iterable[str]) -> dict[str, str]:
        return self._taints.taints(manifest_ids)

    # -- events ---------------------------------------------------------------------------
    def log(self, events: Iterable[Event]) -> None:
        self._events.log(events)

    def events(self, build_id: str | None = None, ref: str | None = None,
               limit: int = 200) -> list[Event]:
        return self._events.events(build_id, ref, limit)
