"""Dagster glue shared by the automation sensors: which refs runs are building, which
automation runs failed and why, and Batch -> RunRequest through the run contract
(``databuild_assets/dagster/run_contract.py``), exactly as `databuild build --dagster`
launches runs (run config refs + partition range tags)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import dagster as dg

from databuild_assets.core import Graph
from databuild_assets.dagster import run_contract as rc
from databuild_assets.dagster.run_contract import (
    ATTEMPT_TAG,
    AUTOMATION_TAG,
    CLASS_TAG,
    WANTS_TAG,
    job_label,
    run_refs,
)

from .decisions import Batch
from .failures import FailedRun

__all__ = ["failed_runs", "in_flight_refs", "run_request", "run_requests"]
NOT_FINISHED = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
                dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED,
                dg.DagsterRunStatus.CANCELING]


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
            out.append(FailedRun(run.run_id, job_label(run.job_name), tuple(refs),
                                 _failure_text(instance, run.run_id),
                                 rec.update_timestamp.timestamp(),
                                 tuple(w for w in run.tags.get(WANTS_TAG, "").split(",") if w)))
    return out, newest


def _tags(batch: Batch, kind: str) -> dict[str, str]:
    tags = {AUTOMATION_TAG: kind, ATTEMPT_TAG: str(batch.attempt)}
    if batch.want_ids:
        tags[WANTS_TAG] = ",".join(batch.want_ids)[:1000]
    if batch.failure_class:
        tags[CLASS_TAG] = batch.failure_class
    return tags


def run_request(graph: Graph, batch: Batch, kind: str
                ) -> tuple[dg.RunRequest, dg.AddDynamicPartitionsRequest | None]:
    """The run contract's request for one batch, tagged as an automation run of ``kind``."""
    return rc.run_request(graph, batch.job, batch.refs, _tags(batch, kind))


def run_requests(graph: Graph, batches: Iterable[Batch], kind: str
                 ) -> tuple[list[dg.RunRequest], list[dg.AddDynamicPartitionsRequest]]:
    """``run_request`` for each batch; the dynamic partition requests apart."""
    return rc.run_requests(graph, ((b.job, b.refs, _tags(b, kind)) for b in batches))
