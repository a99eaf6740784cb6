"""Retries by failure class for every run Dagster launches (UI, backfills, schedules, CLI).

Dagster's own run retries do the re-executing (instance ``run_retries``: ``enabled``,
``max_retries``; the daemon re-executes a failed run from its failure). Whether a run that
failed in an asset or op is retried is decided per run by the
``dagster/retry_on_asset_or_op_failure`` tag, which Dagster reads when the run fails. A
failure hook on every asset and job sets it from ``sensors.failures.classify``: retriable
and unknown failures are retried (at most ``max_retries`` times), permanent ones
(schema/validation, configuration, authentication) are not. Runs the wants or propagation
sensors launched are left to the wants sensor, which retries per partition with backoff.
"""

from __future__ import annotations

import json

import dagster as dg

from .run_contract import AUTOMATION_TAG, CLASS_TAG, RETRY_ON_ASSET_OR_OP_FAILURE_TAG

REASON_TAG = "databuild/failure_reason"


def failure_text(exc: BaseException | None) -> str:
    """What to classify: the exception, plus every per-partition error a range run lists."""
    if exc is None:
        return ""
    parts = [f"{type(exc).__name__}: {exc}"]
    if isinstance(exc, dg.Failure):
        parts = [exc.description or ""]
        failed = (exc.metadata or {}).get("failed")
        value = getattr(failed, "value", failed)
        if isinstance(value, dict):
            parts += [str(v) for v in value.values()]
        elif value is not None:
            parts.append(json.dumps(value, default=str))
    cause = exc.__cause__ or exc.__context__
    if cause is not None and not isinstance(exc, dg.Failure):
        parts.append(f"{type(cause).__name__}: {cause}")
    return "\n".join(p for p in parts if p)


def retry_decision(text: str, tags: dict[str, str]) -> dict[str, str]:
    """The run tags for one failed step: retry unless permanent; automation runs never (the
    wants sensor retries them); a permanent failure anywhere in the run wins."""
    from sensors.failures import PERMANENT, classify

    if tags.get(AUTOMATION_TAG):
        return {RETRY_ON_ASSET_OR_OP_FAILURE_TAG: "false"}
    pieces = [t for t in text.split("\n") if t.strip()] or [text]
    kinds = [classify(p) for p in pieces]
    permanent = [c for c in kinds if c.kind == PERMANENT]
    # a range run retries if any partition's failure is worth retrying; built ones are skipped
    retriable = [c for c in kinds if c.kind != PERMANENT]
    chosen = retriable[0] if retriable else permanent[0]
    if tags.get(CLASS_TAG) == PERMANENT and tags.get(RETRY_ON_ASSET_OR_OP_FAILURE_TAG) == "false":
        return {}  # an earlier step of this run failed permanently: keep that decision
    return {RETRY_ON_ASSET_OR_OP_FAILURE_TAG: "false" if chosen.kind == PERMANENT else "true",
            CLASS_TAG: chosen.kind, REASON_TAG: chosen.reason[:200]}


@dg.failure_hook(name="databuild_retry_by_failure_class")
def retry_by_failure_class(context: dg.HookContext):
    run = context.instance.get_run_by_id(context.run_id)
    tags = retry_decision(failure_text(context.op_exception), dict(run.tags) if run else {})
    if tags:
        context.instance.add_run_tags(context.run_id, tags)
        context.log.info(f"failure class: {tags.get(CLASS_TAG, 'automation')}; "
                         f"run retry: {tags[RETRY_ON_ASSET_OR_OP_FAILURE_TAG]}"
                         if RETRY_ON_ASSET_OR_OP_FAILURE_TAG in tags else "")


def with_retry_classes(defs: dg.Definitions) -> dg.Definitions:
    """``defs`` with the failure hook on every asset and op job (schedules follow their job)."""
    hooks = {retry_by_failure_class}
    assets = [a.with_hooks(hooks) if isinstance(a, dg.AssetsDefinition) and a.is_executable
              else a for a in (defs.assets or [])]
    new_jobs, jobs = {}, []
    for j in defs.jobs or []:
        if isinstance(j, dg.JobDefinition):
            new_jobs[j.name] = j.with_hooks(hooks)
            jobs.append(new_jobs[j.name])
        else:
            jobs.append(j)
    schedules = [_retarget(s, new_jobs) for s in (defs.schedules or [])]
    sensors = [_retarget(s, new_jobs) for s in (defs.sensors or [])]
    return dg.Definitions(assets=assets, asset_checks=defs.asset_checks, jobs=jobs,
                          schedules=schedules, sensors=sensors, resources=defs.resources,
                          executor=defs.executor, loggers=defs.loggers,
                          metadata=defs.metadata)


def _retarget(instigator, new_jobs: dict):
    if isinstance(instigator, dg.ScheduleDefinition):
        if instigator.has_job and instigator.job_name in new_jobs:
            return instigator.with_updated_job(new_jobs[instigator.job_name])
        return instigator
    jobs = getattr(instigator, "jobs", None) if getattr(instigator, "has_jobs", False) else None
    if jobs and any(j.name in new_jobs for j in jobs):
        return instigator.with_updated_jobs([new_jobs.get(j.name, j) for j in jobs])
    return instigator
