"""The states a partition and a build can be in: one vocabulary for the store and staleness.

StrEnums, so a member equals the string the catalog stores (``PartitionState.LIVE == "live"``)
and rows, JSON output and comparisons with plain strings keep working.
"""

from __future__ import annotations

from enum import StrEnum


class PartitionState(StrEnum):
    """``partitions.state`` holds missing, building, live, failed or damaged; staleness adds
    stale and tainted, judged from provenance and taints and never stored."""

    MISSING = "missing"
    BUILDING = "building"
    LIVE = "live"
    STALE = "stale"
    FAILED = "failed"
    TAINTED = "tainted"
    DAMAGED = "damaged"


class BuildState(StrEnum):
    """``builds.status``: a build that died without finishing still says running (its
    heartbeat lease and pid tell)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
