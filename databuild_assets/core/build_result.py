"""What a build reports (BuildResult) and the heartbeat that keeps its lease alive.

One result type for every way a plan runs: in this process (`databuild build`, the
executor fills ``manifests``) and through Dagster (`build --dagster`, the launcher fills
``runs``), so the CLI, progress lines and benchmarks read one summary."""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field

from .manifest import PartitionManifest
from .planner import JobGraph

HEARTBEAT_SECONDS = 5.0


@dataclass
class BuildResult:
    build_id: str
    plan: JobGraph
    manifests: list[PartitionManifest] = field(default_factory=list)  # built or cached
    failed: dict[str, str] = field(default_factory=dict)
    blocked: dict[str, str] = field(default_factory=dict)  # not run: an input failed
    cut_off: list[str] = field(default_factory=list)  # fresh after all when their turn came
    cached: list[str] = field(default_factory=list)  # republished from the action cache
    delegated: dict[str, str] = field(default_factory=dict)  # ref -> live|failed|taken over
    built: list[str] = field(default_factory=list)  # refs this build made live (not cached)
    runs: list[dict] = field(default_factory=list)  # Dagster runs launched (build --dagster)
    jobs_run: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (not self.failed and not self.blocked
                and all(r["status"] == "SUCCESS" for r in self.runs))

    def summary(self) -> dict:
        cached = set(self.cached)
        built = len(self.built)
        return {
            "build_id": self.build_id, "ok": self.ok, "jobs_run": self.jobs_run,
            "dagster_runs": len(self.runs),
            "built": built, "partitions_built": built, "skipped": len(self.plan.skipped),
            "cut_off": len(self.cut_off), "cached": len(cached),
            "delegated": len(self.delegated),
            "delegated_outcomes": dict(collections.Counter(self.delegated.values())),
            "failed": len(self.failed), "blocked": len(self.blocked),
            "seconds": round(self.seconds, 3),
        }


class Heartbeat(threading.Thread):
    """Renews the build's lease every few seconds while it runs (other builds take over the
    refs of a build whose lease expired)."""

    def __init__(self, catalog, build_id):
        super().__init__(daemon=True, name=f"heartbeat-{build_id}")
        self.catalog, self.build_id, self.stop = catalog, build_id, threading.Event()

    def run(self):
        while not self.stop.wait(HEARTBEAT_SECONDS):
            try:
                self.catalog.heartbeat(self.build_id)
            except Exception:  # noqa: BLE001 - a failed beat only shortens the lease; beat on
                pass
