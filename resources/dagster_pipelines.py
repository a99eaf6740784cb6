"""Pipelines as Dagster jobs: one op per task in the enforced order, each op in the pool of
its task lock; a schedule per pipeline; a manual job per long-running task."""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg

from . import pipelines as pl
from .dbt import DEFAULT_PROJECT, run_dbt
from .locks import lock_key
from .tasks import TASKS

PIPELINE_TAG = "databuild/pipeline"


def _op_name(pipeline: pl.Pipeline, task: pl.Task) -> str:
    """Unique per pipeline: Dagster wants one op definition per name in a repository."""
    return re.sub(r"[^A-Za-z0-9_]", "_", f"{pipeline.name}__{task.name}")


def _run_task(context, pf: pl.PipelineFile, pipeline: pl.Pipeline, task: pl.Task) -> dict:
    """Build the operation object for this run, use it, throw it away."""
    target = pf.targets[pipeline.target]
    project = pf.dbt_project_dir or DEFAULT_PROJECT
    kind = TASKS[task.slug].kind
    if kind == "airbyte":
        from .airbyte import AirbyteConnection, clear, sync

        conn = AirbyteConnection.from_dict(task.params["connection"],
                                           pf.connections[task.params["connection"]])
        timeout = float(task.params.get("timeout", 3600))
        if task.slug == "airbyte-sync":
            out = sync(conn, target, timeout=timeout, log=context.log)
        else:
            out = clear(conn, target, streams=task.params.get("streams"), log=context.log)
        return {"ok": out.status == "succeeded", "status": out.status, "message": out.message,
                "job_id": getattr(out, "job_id", None)}
    if kind == "git":
        from .git import sync_repo

        out = sync_repo(task.slug, task.params, project, log=context.log)
        return {"ok": out.ok, "status": "succeeded" if out.ok else "failed",
                "message": out.output[-2000:]}
    if kind == "shell":
        from .shell import check_cwd, run

        cwd = check_cwd(task.params.get("cwd"), [project, Path.cwd()])
        out = run(task.params["args"], cwd=cwd, env=task.params.get("env"),
                  timeout=float(task.params.get("timeout", 3600)), log=context.log)
        return {"ok": out.ok, "status": "succeeded" if out.ok else "failed",
                "message": out.output[-2000:]}
    outcome = run_dbt(TASKS[task.slug].command.removeprefix("dbt "), task.params, target,
                      project_dir=project, log=context.log)
    return {"ok": outcome.ok, "status": "succeeded" if outcome.ok else "failed",
            "message": outcome.message, "failed_tests": outcome.failed_tests,
            "errors": outcome.errors}


_OPS: dict[tuple[int, str, str], dg.OpDefinition] = {}


def _task_op(pf, pipeline, task):
    """One op definition per (file, pipeline, task), shared by the pipeline and manual jobs."""
    key = (id(pf), pipeline.name, task.name)
    if key not in _OPS:
        _OPS[key] = _make_task_op(pf, pipeline, task)
    return _OPS[key]


def _make_task_op(pf, pipeline, task):
    pool = lock_key(task.slug, task.params, pipeline.target, pf.dbt_project_dir or DEFAULT_PROJECT)

    @dg.op(name=_op_name(pipeline, task), ins={"after": dg.In(dg.Nothing)},
           out=dg.Out(dg.Nothing), pool=pool, tags={"databuild/task": task.slug},
           description=TASKS[task.slug].help)
    def _op(context) -> None:
        # Nothing in, Nothing out: ordering only, so the code location's default (partition)
        # IO manager is never asked to store a task's result.
        result = _run_task(context, pf, pipeline, task)
        meta = {"status": result["status"], "lock": pool or "-",
                "message": result["message"][:1000]}
        if result["ok"]:
            context.add_output_metadata(meta)
            return
        tests_only = result.get("failed_tests") and not result.get("errors")
        if tests_only and pipeline.dbt_test_failures == "warn":
            context.log.warning(f"{task.name}: {result['message']} (dbt_test_failures: warn)")
            context.add_output_metadata({**meta, "status": "warned"})
            return
        raise dg.Failure(description=f"{task.name}: {result['message']}", metadata=meta)

    return _op


def pipeline_job(pf: pl.PipelineFile, pipeline: pl.Pipeline) -> dg.JobDefinition:
    """Ops chained by Nothing dependencies. Under continue_on_sync_failure the syncs run side
    by side (a failed one is a failed step, the others still run) and everything after them
    waits for all of them; otherwise each task waits for the previous one."""
    ops = [(t, _task_op(pf, pipeline, t)) for t in pipeline.tasks]

    @dg.graph(name=re.sub(r"[^A-Za-z0-9_]", "_", pipeline.name))
    def _graph():
        previous = None
        for task, op in ops:
            if task.slug.startswith("airbyte-") and pipeline.continue_on_sync_failure:
                res = op()
                previous = (previous if isinstance(previous, list) else []) + [res]
                continue
            previous = op(after=previous) if previous is not None else op()

    return _graph.to_job(
        name=_graph.name, tags={PIPELINE_TAG: pipeline.name, "databuild/target": pipeline.target},
        description=pipeline.description or f"pipeline {pipeline.name} on {pipeline.target}",
        executor_def=dg.in_process_executor)


def manual_jobs(pf: pl.PipelineFile) -> list[dg.JobDefinition]:
    """Each long-running task of each pipeline, runnable alone."""
    jobs, seen = [], set()
    for p in pf.pipelines.values():
        for t in p.tasks:
            if not TASKS[t.slug].long_running:
                continue
            name = re.sub(r"[^A-Za-z0-9_]", "_", f"manual__{p.name}__{t.name}")
            if name in seen:
                continue
            seen.add(name)
            op = _task_op(pf, p, t)
            jobs.append(dg.GraphDefinition(name=name, node_defs=[op]).to_job(
                tags={PIPELINE_TAG: p.name, "databuild/manual": "true"},
                executor_def=dg.in_process_executor))
    return jobs


def schedules(pf: pl.PipelineFile, jobs: dict[str, dg.JobDefinition]) -> list:
    return [dg.ScheduleDefinition(name=f"{jobs[p.name].name}_schedule", job=jobs[p.name],
                                  cron_schedule=p.cron, execution_timezone=p.timezone)
            for p in pf.pipelines.values() if p.cron]


def pipeline_definitions(pf: pl.PipelineFile, **dbt_options) -> dg.Definitions:
    from .dbt_assets import dbt_definitions

    jobs = {p.name: pipeline_job(pf, p) for p in pf.pipelines.values()}
    return dg.Definitions(assets=dbt_definitions(pf, **dbt_options), jobs=list(jobs.values()) + manual_jobs(pf),
                          schedules=schedules(pf, jobs))


def reconstruct_pipeline_job(path: str, name: str) -> dg.JobDefinition:
    """Module-level so Dagster can rebuild the job from a pointer in another process."""
    pf = pl.load(path)
    return pipeline_job(pf, pf.pipeline(name))


def run_pipeline(path: str, name: str, instance: dg.DagsterInstance, tags: dict | None = None):
    """Run one pipeline as a Dagster run in ``instance`` (so its task locks apply)."""
    pl.load(path).pipeline(name)  # validate first: clear errors before any run exists
    recon = dg.build_reconstructable_job("resources.dagster_pipelines",
                                         "reconstruct_pipeline_job",
                                         reconstructable_args=(str(Path(path).resolve()), name))
    return dg.execute_job(recon, instance=instance, tags={PIPELINE_TAG: name, **(tags or {})},
                          raise_on_error=False)
