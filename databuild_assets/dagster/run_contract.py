"""The run contract: how a run of a databuild job is named, tagged and configured, and how
its refs are read back from a run.

Every launcher speaks it (``databuild build --dagster``, the wants and propagation sensors,
cron wants, the UI's own launches read back by the sensors): the ``<label>__job`` asset job,
the exact refs in run config, Dagster's partition tags covering them (so the UI shows the
range), and databuild's own tags. One module so the launchers cannot drift apart, and the
one place that imports Dagster internals (``dagster._core``): tag names Dagster does not
export publicly, pinned here so a Dagster upgrade breaks one file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg
from dagster._core.definitions.source_asset import SYSTEM_METADATA_KEY_SOURCE_ASSET_OBSERVATION
from dagster._core.events import AssetMaterializationPlannedData, DagsterEvent
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    BACKFILL_ID_TAG,
    PARTITION_NAME_TAG,
    RETRY_ON_ASSET_OR_OP_FAILURE_TAG,
)
from dagster._utils.interrupts import check_captured_interrupt

from ..core.refs import DateDim, StaticDim, date_range
from .partitions import dynamic_partitions_name, job_partitions_def, key_to_ref, ref_to_key
from .reporting import asset_key

JOB_SUFFIX = "__job"
BUILD_TAG = "databuild/build_id"  # databuild build --dagster: the build the run belongs to
FORCE_TAG = "databuild/force"  # "true": rebuild the run's refs even if live and fresh
REFS_TAG = "databuild/refs"  # the refs, for people (run config holds the exact list)
CATALOG_TAG = "databuild/catalog"  # the catalog URL (never its password)
AUTOMATION_TAG = "databuild/automation"  # wants | propagate: launched by a sensor
WANTS_TAG = "databuild/wants"  # want ids the run serves
ATTEMPT_TAG = "databuild/attempt"  # automation: the attempt number of the run's refs
CLASS_TAG = "databuild/failure_class"  # retriable | permanent (set when a run failed)
# An output carrying this metadata key makes Dagster store no asset event for it (used by
# steps.py: each partition then gets its own event with its own data version).
NO_AUTO_EVENTS = SYSTEM_METADATA_KEY_SOURCE_ASSET_OBSERVATION
# Read by Dagster's event log storage when a run is created: one "materialization planned"
# event per asset carrying the run's partition subset, instead of one event per partition.
SUBSET_PLANNED_ENV = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"

__all__ = ["ASSET_PARTITION_RANGE_END_TAG", "ASSET_PARTITION_RANGE_START_TAG", "ATTEMPT_TAG",
           "AUTOMATION_TAG", "BACKFILL_ID_TAG", "BUILD_TAG", "CATALOG_TAG", "CLASS_TAG",
           "FORCE_TAG", "JOB_SUFFIX", "NO_AUTO_EVENTS", "PARTITION_NAME_TAG", "REFS_TAG",
           "RETRY_ON_ASSET_OR_OP_FAILURE_TAG", "RunSpec", "WANTS_TAG", "asset_jobs",
           "check_captured_interrupt", "job_label", "job_name", "one_planned_event_per_asset",
           "plan_failed_partitions", "range_tags", "sqlite_event_log_kept_open",
           "refs_tag", "run_config", "run_refs", "run_request", "run_requests"]


@dataclass
class RunSpec:
    """One run to launch: a job's refs and their partition keys (None: unpartitioned)."""

    job: str
    refs: list[str]
    keys: list[str | None]
    wave: int = 0


def job_name(label: str) -> str:
    """The asset job of a databuild job."""
    return f"{label}{JOB_SUFFIX}"


def job_label(name: str | None) -> str | None:
    """The databuild job label of an asset job name, None for any other job."""
    return name[: -len(JOB_SUFFIX)] if name and name.endswith(JOB_SUFFIX) else None


def asset_jobs(graph) -> list:
    """One ``<label>__job`` asset job per databuild job, selecting its output assets."""
    return [dg.define_asset_job(job_name(job.label), selection=dg.AssetSelection.assets(
        *[asset_key(p.dataset) for p in job.outputs]), executor_def=dg.in_process_executor)
        for job in graph.jobs]


def run_config(label: str, refs: Iterable[str]) -> dict:
    """The exact refs a run builds, as the op's config."""
    return {"ops": {label: {"config": {"refs": list(refs)}}}}


def refs_tag(refs: list[str]) -> str:
    text = ",".join(refs)
    return text if len(text) <= 1000 else f"{','.join(refs[:20])},... ({len(refs)} refs)"


def range_tags(spec: RunSpec, pdef) -> dict[str, str]:
    """Partition tags covering the run's keys, in the definition's own key order (static
    keys are not alphabetical; multi keys are a rectangle, bounded per dimension)."""
    keys = sorted({k for k in spec.keys if k is not None})
    if not keys or pdef is None:
        return {}
    if len(keys) == 1:
        return {PARTITION_NAME_TAG: keys[0]}
    if isinstance(pdef, dg.MultiPartitionsDefinition):
        parts = [k.split("|") for k in keys]
        lo, hi = [], []
        for i, dim in enumerate(pdef.partitions_defs):  # ordered by name, like the key parts
            order = _order(dim.partitions_def)
            ranked = sorted({p[i] for p in parts}, key=(order.__getitem__ if order else None))
            lo.append(ranked[0])
            hi.append(ranked[-1])
        return {ASSET_PARTITION_RANGE_START_TAG: "|".join(lo),
                ASSET_PARTITION_RANGE_END_TAG: "|".join(hi)}
    order = _order(pdef)
    if order:
        keys = sorted(keys, key=order.__getitem__)
    return {ASSET_PARTITION_RANGE_START_TAG: keys[0], ASSET_PARTITION_RANGE_END_TAG: keys[-1]}


def _order(pdef) -> dict[str, int] | None:
    if isinstance(pdef, dg.StaticPartitionsDefinition):
        return {k: i for i, k in enumerate(pdef.get_partition_keys())}
    return None  # time windows: ISO dates sort correctly; dynamic: registered in sorted order


def run_request(graph, label: str, refs: Iterable[str], tags: dict[str, str] | None = None
                ) -> tuple[dg.RunRequest, dg.AddDynamicPartitionsRequest | None]:
    """A RunRequest for the ``<label>__job`` asset job over exact refs (run config), with the
    partition range tags and the refs tag, plus the dynamic partitions it needs registered."""
    refs = list(refs)
    job = graph.registry.jobs[label]
    keys = [ref_to_key(graph.registry.pattern(r), r) for r in refs]
    all_tags = {REFS_TAG: refs_tag(refs), **(tags or {}),
                **range_tags(RunSpec(label, refs, keys), job_partitions_def(job))}
    dyn = dynamic_partitions_name(job)
    add = (dg.AddDynamicPartitionsRequest(dyn, sorted({k for k in keys if k}))
           if dyn and any(keys) else None)
    return dg.RunRequest(job_name=job_name(label), tags=all_tags,
                         run_config=run_config(label, refs)), add


def run_requests(graph, runs: Iterable[tuple[str, Iterable[str], dict[str, str]]]
                 ) -> tuple[list[dg.RunRequest], list[dg.AddDynamicPartitionsRequest]]:
    """``run_request`` for each (label, refs, tags); the dynamic partition requests apart."""
    requests, dynamic = [], []
    for label, refs, tags in runs:
        req, add = run_request(graph, label, refs, tags)
        requests.append(req)
        if add:
            dynamic.append(add)
    return requests, dynamic


def run_refs(graph, run: dg.DagsterRun) -> list[str]:
    """The refs a run of a databuild job builds: run config refs, else its partition tags
    (runs launched from the UI), else []."""
    label = job_label(run.job_name)
    job = graph.registry.jobs.get(label) if label else None
    if job is None:
        return []
    refs = (((run.run_config or {}).get("ops") or {}).get(label) or {}).get("config", {}).get("refs")
    if refs:
        return list(refs)
    tags = run.tags
    keys: list[str] = []
    if tags.get(PARTITION_NAME_TAG):
        keys = [tags[PARTITION_NAME_TAG]]
    elif tags.get(ASSET_PARTITION_RANGE_START_TAG):
        keys = _keys_between(job, tags[ASSET_PARTITION_RANGE_START_TAG],
                             tags.get(ASSET_PARTITION_RANGE_END_TAG, ""))
    out = []
    for p in job.outputs:
        for k in keys:
            try:
                out.append(key_to_ref(p, k))
            except Exception:  # noqa: BLE001 - a key of another layout: not ours to judge
                continue
    return out


def _keys_between(job, start: str, end: str) -> list[str]:
    dims = job.outputs[0].dims
    if len(dims) != 1:
        return [start, end]
    if isinstance(dims[0], DateDim):
        try:
            return date_range(start, end)
        except Exception:  # noqa: BLE001 - a malformed tag: read its two ends only
            return [start, end]
    if isinstance(dims[0], StaticDim) and start in dims[0].values and end in dims[0].values:
        vals = dims[0].values
        return list(vals[vals.index(start): vals.index(end) + 1])
    return [start, end]


@contextlib.contextmanager
def one_planned_event_per_asset():
    """Runs created inside (``build --dagster``'s): one planned event per asset and run, not
    one per partition (each costs a SQLite write or two: ~1/3 of a range run's events).
    Dagster then marks no partition FAILED by itself; ``plan_failed_partitions`` does it
    for the partitions that failed. Restored on exit: other runs of the process keep
    Dagster's default."""
    old = os.environ.get(SUBSET_PLANNED_ENV)
    os.environ[SUBSET_PLANNED_ENV] = "true"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(SUBSET_PLANNED_ENV, None)
        else:
            os.environ[SUBSET_PLANNED_ENV] = old


def plan_failed_partitions(context, asset_key: dg.AssetKey, keys: Iterable[str | None]) -> None:
    """Per-partition planned events, in the running step, for partitions that will end
    without a materialization: when the run ends failed, Dagster's partition status marks
    exactly these FAILED (its status reads per-partition planned events only)."""
    step = context.get_step_execution_context().step.key
    for key in keys:
        if key is not None:
            context.instance.report_dagster_event(
                DagsterEvent.build_asset_materialization_planned_event(
                    context.job_name, step, AssetMaterializationPlannedData(asset_key,
                                                                            partition=key)),
                run_id=context.run.run_id, log_level=logging.DEBUG)


@contextlib.contextmanager
def sqlite_event_log_kept_open(instance, run_id: str):
    """While a step logs its per-partition events: hold an idle connection to the run's and
    the index database of Dagster's default SQLite event log. Dagster opens and closes a
    connection per write; in WAL mode the last connection to close checkpoints the log into
    the database and deletes it (fsyncs and file operations on every event). With one
    connection kept open no close is the last one. Any other storage: nothing to do."""
    storage = getattr(instance, "event_log_storage", None)
    kept = []
    if isinstance(storage, SqliteEventLogStorage):
        for shard in (INDEX_SHARD_NAME, run_id):
            path = storage.conn_string_for_shard(shard).removeprefix("sqlite:///")
            if not os.path.exists(path):
                continue
            try:
                conn = sqlite3.connect(path, timeout=1.0, check_same_thread=False)
                conn.execute("SELECT count(*) FROM sqlite_master").fetchall()  # maps the WAL
                kept.append(conn)
            except sqlite3.Error:
                continue
    try:
        yield
    finally:
        for conn in kept:
            conn.close()
