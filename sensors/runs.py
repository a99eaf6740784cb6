"""Dagster glue shared by the automation sensors: which refs runs are building, which
automation runs failed and why, and Batch -> RunRequest exactly as `databuild build
--dagster` launches runs (run config refs + partition range tags)."""

from __future__ import annotations

import datetime as dt

import dagster as dg
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from databuild_assets.core import Graph
from databuild_assets.core.refs import DateDim, StaticDim, date_range
from databuild_assets.dagster.assets import _partitions_for, dynamic_partitions_name
from databuild_assets.dagster.launcher import RunSpec, _range_tags, _refs_tag
from databuild_assets.dagster.partitions import key_to_ref, ref_to_key

from .decisions import Batch
from .failures import FailedRun

AUTOMATION_TAG = "databuild/automation"  # wants | propagate
WANTS_TAG = "databuild/wants"
ATTEMPT_TAG = "databuild/attempt"
CLASS_TAG = "databuild/failure_class"
REFS_TAG = "databuild/refs"
JOB_SUFFIX = "__job"
NOT_FINISHED = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
                dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
                dg.DagsterRunStatus.CANCELING]


def run_refs(graph: Graph, run: dg.DagsterRun) -> list[str]:
    """The refs a run of a databuild job builds: run config refs, else its partition tags
    (runs launched from the UI), else []."""
    if not run.job_name or not run.job_name.endswith(JOB_SUFFIX):
        return []
    label = run.job_name[: -len(JOB_SUFFIX)]
    job = graph.registry.jobs.get(label)
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
        except Exception:  # noqa: BLE001
            return [start, end]
    if isinstance(dims[0], StaticDim) and start in dims[0].values and end in dims[0].values:
        vals = dims[0].values
        return list(vals[vals.index(start): vals.index(end) + 1])
    return [start, end]


def in_flight_refs(graph: Graph, instance: dg.DagsterInstance, limit: int = 2000) -> set[str]:
    """Refs of every queued or running databuild run, whoever launched it."""
    refs: set[str] = set()
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=NOT_FINISHED), limit=limit):
        refs.update(run_refs(graph, run))
    return refs


def _failure_text(instance: dg.DagsterInstance, run_id: str) -> str:
    texts = []
    for entry in instance.all_logs(run_id, of_type={dg.DagsterEventType.STEP_FAILURE,
                                                    dg.DagsterEventType.RUN_FAILURE}):
        ev = entry.dagster_event
        err = getattr(ev.event_specific_data, "error", None) if ev else None
        if err is not None:
            texts.append(f"{err.cls_name}: {err.message.strip()}" if err.cls_name else err.message)
        elif entry.message:
            texts.append(entry.message)
    return " | ".join(texts)[:4000]


def failed_runs(graph: Graph, instance: dg.DagsterInstance, since: float,
                limit: int = 200) -> tuple[list[FailedRun], float]:
    """Automation runs that failed since ``since`` (epoch seconds), oldest first, and the
    newest update time seen."""
    filters = dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE],
                            updated_after=dt.datetime.fromtimestamp(since, dt.UTC))
    records = instance.get_run_records(filters=filters, limit=limit, order_by="update_timestamp",
                                       ascending=True)
    out, newest = [], since
    for rec in records:
        run = rec.dagster_run
        newest = max(newest, rec.update_timestamp.timestamp())
        if AUTOMATION_TAG not in run.tags:
            continue
        refs = run_refs(graph, run)
        if refs:
            out.append(FailedRun(run.run_id, run.job_name[: -len(JOB_SUFFIX)], tuple(refs),
                                 _failure_text(instance, run.run_id),
                                 rec.update_timestamp.timestamp(),
                                 tuple(w for w in run.tags.get(WANTS_TAG, "").split(",") if w)))
    return out, newest


def run_request(graph: Graph, batch: Batch, kind: str
                ) -> tuple[dg.RunRequest, dg.AddDynamicPartitionsRequest | None]:
    """Target the ``<job>__job`` asset job with the exact refs in run config and the
    partition range tags, as `databuild build --dagster` does."""
    job = graph.registry.jobs[batch.job]
    keys = [ref_to_key(graph.registry.pattern(r), r) for r in batch.refs]
    spec = RunSpec(batch.job, list(batch.refs), keys, 0)
    tags = {AUTOMATION_TAG: kind, REFS_TAG: _refs_tag(list(batch.refs)),
            ATTEMPT_TAG: str(batch.attempt), **_range_tags(graph, spec, _partitions_for(job))}
    if batch.want_ids:
        tags[WANTS_TAG] = ",".join(batch.want_ids)[:1000]
    if batch.failure_class:
        tags[CLASS_TAG] = batch.failure_class
    dyn = dynamic_partitions_name(job)
    add = (dg.AddDynamicPartitionsRequest(dyn, sorted({k for k in keys if k}))
           if dyn and any(keys) else None)
    return dg.RunRequest(job_name=f"{batch.job}{JOB_SUFFIX}", tags=tags,
                         run_config={"ops": {batch.job: {"config": {"refs": list(batch.refs)}}}}
                         ), add


def asset_jobs(graph: Graph) -> list:
    """The per-job asset jobs `build_definitions` defines (same names and selections)."""
    from databuild_assets.dagster.reporting import asset_key

    return [dg.define_asset_job(f"{job.label}{JOB_SUFFIX}", selection=dg.AssetSelection.assets(
        *[asset_key(p.dataset) for p in job.outputs]), executor_def=dg.in_process_executor)
        for job in graph.jobs]
