"""Pipelines as Dagster jobs: one op per task in the enforced order, each op in the pool of
its task lock (or one pipeline-wide lock); a schedule per pipeline that passes its tick; a
manual job per task.

Ops take and give ``Nothing``: ordering only, so whatever IO manager the code location has
by default (the partition IO manager) is never asked to store a task's result.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg

from databuild_assets.dagster.interrupts import interruptible_wait
from databuild_assets.dagster.resource import DatabuildResource

from . import pipelines as pl
from .dbt import DEFAULT_PROJECT, artifacts_root, run_dbt
from .locks import lock_key
from .pipeline_lock import hold_pipeline_locks, pipeline_lock_keys, release_pipeline_locks
from .tasks import TASKS
from .tick import TICK_TAG, render, tick_values

PIPELINE_TAG = "databuild/pipeline"
DATABUILD = "databuild"  # the resource key of the DatabuildResource the ops read
STATUS_KEY = "status"  # step metadata: succeeded | warned | failed


def _op_name(pipeline: pl.Pipeline, task: pl.Task) -> str:
    """Unique per pipeline: Dagster wants one op definition per name in a repository."""
    return pl.sanitize(f"{pipeline.name}__{task.name}")


def _tick(context, pipeline: pl.Pipeline) -> dict:
    """The tick of a scheduled run (its tag), else the moment the run started."""
    raw = context.run.tags.get(TICK_TAG)
    when = dt.datetime.fromisoformat(raw) if raw else dt.datetime.now(dt.UTC)
    return tick_values(when, pipeline.cron, pipeline.timezone)


def _run_task(context, pf: pl.PipelineFile, pipeline: pl.Pipeline, task: pl.Task) -> dict:
    """Build the operation object for this run, use it, throw it away. Paths and secrets come
    from the run's DatabuildResource; no state folder there: ``.databuild`` by pipelines.yaml."""
    db: DatabuildResource = getattr(context.resources, DATABUILD)
    home = db.state_home(Path(pf.path).resolve().parent / ".databuild")
    target = pf.targets[pipeline.target]
    project = pf.dbt_project_dir or DEFAULT_PROJECT
    kind = TASKS[task.slug].kind
    if kind == "airbyte":
        from .airbyte import AirbyteConnection, clear, sync

        conn = AirbyteConnection.from_dict(task.params["connection"],
                                           pf.connections[task.params["connection"]])
        timeout = float(task.params.get("timeout", 3600))
        if task.slug == "airbyte-sync":
            out = sync(conn, target, timeout=timeout, log=context.log,
                       install_root=db.connectors_home(home))
        else:
            out = clear(conn, target, streams=task.params.get("streams"), log=context.log)
        return {"ok": out.status == "succeeded", "status": out.status, "message": out.message,
                "job_id": getattr(out, "job_id", None)}
    if kind == "git":
        from .git import sync_repo

        out = sync_repo(task.slug, task.params, project, log=context.log, secret=db.secret)
        return {"ok": out.ok, "status": "succeeded" if out.ok else "failed",
                "message": out.output[-2000:]}
    if kind == "shell":
        from .shell import check_cwd, run

        cwd = check_cwd(task.params.get("cwd"), [project, Path.cwd()])
        out = run(task.params["args"], cwd=cwd, env=task.params.get("env"),
                  timeout=float(task.params.get("timeout", 3600)), log=context.log)
        tail = " | ".join(out.output.strip().splitlines()[-5:])
        return {"ok": out.ok, "status": "succeeded" if out.ok else "failed",
                "message": (f"exit code {out.returncode}" + (f": {tail}" if tail else ""))[-2000:]}
    params = dict(task.params)
    given = (context.op_config or {}).get("vars")
    if given is not None:  # from the schedule (tick rendered) or the launchpad
        params["vars"] = given
    elif params.get("vars"):
        params["vars"] = render(params["vars"], _tick(context, pipeline))
    artifacts = artifacts_root(home, pipeline.name, context.run_id) / pl.sanitize(task.name)
    cache = home / "dbt" / ".parse" / pl.sanitize(f"{project.name}-{pipeline.target}")
    outcome = run_dbt(TASKS[task.slug].command.removeprefix("dbt "), params, target,
                      project_dir=project, log=context.log, artifacts_dir=artifacts,
                      parse_cache=cache)
    return {"ok": outcome.ok, "status": "succeeded" if outcome.ok else "failed",
            "message": outcome.message, "failed_tests": outcome.failed_tests,
            "errors": outcome.errors, "skipped": outcome.skipped,
            "artifacts": outcome.artifacts, "vars": params.get("vars")}


LOCK_WATCH = "databuild_lock_watch"


@dg.resource(description="Lets a run that waits for a task lock (pool slot) be terminated, "
             "and frees the locks of dead runs meanwhile.")
def lock_watch(context):
    """Dagster's run worker captures a termination request (SIGINT from the UI, `dagster run
    terminate`, the run launcher) and only looks at it when a step starts, which a run waiting
    for a pool slot never does. Resources are initialised before that wait, in the run
    worker's main thread, so the watcher from `interrupts.interruptible_wait` covers it."""
    with interruptible_wait(context.instance):
        yield None


_OPS: dict[tuple, dg.OpDefinition] = {}


def _task_op(pf, pipeline, task, alone: bool = False):
    """One op definition per (file, pipeline, task), shared by the pipeline and manual jobs
    (a manual job of a `lock: pipeline` pipeline gets its own op that takes its task lock)."""
    alone = alone and pipeline.lock == "pipeline"
    key = (id(pf), pipeline.name, task.name, alone)
    if key not in _OPS:
        _OPS[key] = _make_task_op(pf, pipeline, task, alone)
    return _OPS[key]


def _metadata(result: dict, pool: str | None) -> dict:
    meta = {STATUS_KEY: result["status"], "lock": pool or "-",
            "message": result["message"][:1000]}
    if result.get("artifacts"):
        meta["artifacts"] = dg.MetadataValue.path(result["artifacts"])
    if result.get("skipped"):
        meta["skipped"] = ", ".join(result["skipped"])[:1000]
    if result.get("vars") is not None:
        meta["vars"] = dg.MetadataValue.json(result["vars"])
    return meta


def _make_task_op(pf, pipeline, task, alone: bool = False):
    project = pf.dbt_project_dir or DEFAULT_PROJECT
    lock = lock_key(task.slug, task.params, pipeline.target, project)
    # under a pipeline-wide lock the run holds every lock from its first step to its last
    pool = None if pipeline.lock == "pipeline" and not alone else lock
    is_dbt = TASKS[task.slug].kind == "dbt"
    config = {"vars": dg.Field(dg.Permissive(), is_required=False,
                               description="dbt --vars for this run (replaces the declared "
                               "vars; schedules pass them rendered for their tick)")} \
        if is_dbt and "vars" in TASKS[task.slug].params else None

    @dg.op(name=_op_name(pipeline, task) + ("__alone" if alone else ""), ins={"after": dg.In(dg.Nothing)},
           out=dg.Out(dg.Nothing), pool=pool, config_schema=config,
           required_resource_keys={DATABUILD, LOCK_WATCH} if pool else {DATABUILD},
           tags={"databuild/task": task.slug, "databuild/lock": lock or "-"},
           description=TASKS[task.slug].help)
    def _op(context) -> None:
        result = _run_task(context, pf, pipeline, task)
        if result["ok"]:
            context.add_output_metadata(_metadata(result, lock))
            return
        tests_only = result.get("failed_tests") and not result.get("errors")
        if tests_only and pipeline.dbt_test_failures == "warn":
            context.log.warning(f"{task.name}: {result['message']} (dbt_test_failures: warn)")
            context.add_output_metadata(_metadata({**result, "status": "warned"}, lock))
            return
        raise dg.Failure(description=f"{task.name}: {result['message']}",
                         metadata=_metadata(result, lock))

    return _op


def _lock_ops(pf, pipeline):
    keys = pipeline_lock_keys(pf, pipeline)
    name = pl.sanitize(pipeline.name)

    @dg.op(name=f"{name}__lock", out=dg.Out(dg.Nothing),
           description=f"Takes every lock of the pipeline: {', '.join(keys)}")
    def take(context) -> None:
        hold_pipeline_locks(context.instance, context.run_id, keys, context.log)

    @dg.op(name=f"{name}__unlock", ins={"after": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing))
    def give(context) -> None:
        release_pipeline_locks(context.instance, context.run_id)

    side_by_side = {_op_name(pipeline, t) for t in pipeline.tasks
                    if t.slug.startswith("airbyte-") and pipeline.continue_on_sync_failure}

    @dg.failure_hook(name=f"{name}__unlock_on_failure")
    def on_failure(context) -> None:
        if context.op.name in side_by_side:
            return  # other syncs may still run under the lock; freed when the run has ended
        release_pipeline_locks(context.instance, context.run_id)

    return take, give, on_failure


def pipeline_job(pf: pl.PipelineFile, pipeline: pl.Pipeline,
                 databuild: DatabuildResource | None = None) -> dg.JobDefinition:
    """Ops chained by Nothing dependencies. Under continue_on_sync_failure the syncs run side
    by side (a failed one is a failed step, the others still run) and everything after them
    waits for all of them; otherwise each task waits for the previous one. ``databuild``:
    the entry point's DatabuildResource (state folder, connectors, secrets)."""
    ops = [(t, _task_op(pf, pipeline, t)) for t in pipeline.tasks]
    locked = pipeline.lock == "pipeline"
    take, give, on_failure = _lock_ops(pf, pipeline) if locked else (None, None, None)

    @dg.graph(name=pl.sanitize(pipeline.name))
    def _graph():
        lock_taken = take() if locked else None
        previous = lock_taken
        syncs: list = []
        for task, op in ops:
            if task.slug.startswith("airbyte-") and pipeline.continue_on_sync_failure:
                syncs.append(op(after=lock_taken) if locked else op())  # side by side
                previous = syncs
                continue
            previous = op(after=previous) if previous is not None else op()
        if locked:
            give(after=previous)

    return _graph.to_job(
        name=_graph.name, tags={PIPELINE_TAG: pipeline.name, "databuild/target": pipeline.target},
        description=pipeline.description or f"pipeline {pipeline.name} on {pipeline.target}",
        executor_def=dg.in_process_executor, hooks={on_failure} if locked else set(),
        resource_defs={LOCK_WATCH: lock_watch, DATABUILD: databuild or DatabuildResource()})


def manual_jobs(pf: pl.PipelineFile,
                databuild: DatabuildResource | None = None) -> list[dg.JobDefinition]:
    """Every task of every pipeline, runnable alone (git pull, dbt clean, docs, ...)."""
    jobs, seen = [], set()
    for p in pf.pipelines.values():
        for t in p.tasks:
            name = pl.sanitize(f"manual__{p.name}__{t.name}")
            if name in seen:
                continue
            seen.add(name)
            op = _task_op(pf, p, t, alone=True)
            jobs.append(dg.GraphDefinition(name=name, node_defs=[op]).to_job(
                tags={PIPELINE_TAG: p.name, "databuild/manual": "true"},
                description=f"{t.slug} of pipeline {p.name}, alone",
                executor_def=dg.in_process_executor,
                resource_defs={LOCK_WATCH: lock_watch, DATABUILD: databuild or DatabuildResource()}))
    return jobs


def tick_run_config(pipeline: pl.Pipeline, when: dt.datetime) -> tuple[dict, dict]:
    """Run config and tags for a run at tick ``when``: every dbt task's declared vars
    rendered with the tick variables."""
    values = tick_values(when, pipeline.cron, pipeline.timezone)
    ops = {_op_name(pipeline, t): {"config": {"vars": render(t.params["vars"], values)}}
           for t in pipeline.tasks if TASKS[t.slug].kind == "dbt" and t.params.get("vars")}
    tags = {TICK_TAG: values["data_interval_end"],
            "databuild/scheduled_date": values["scheduled_date"]}
    return ({"ops": ops} if ops else {}), tags


def pipeline_schedule(pipeline: pl.Pipeline, job: dg.JobDefinition) -> dg.ScheduleDefinition:
    def _evaluate(context: dg.ScheduleEvaluationContext):
        when = context.scheduled_execution_time or dt.datetime.now(dt.UTC)
        run_config, tags = tick_run_config(pipeline, when)
        return dg.RunRequest(run_config=run_config, tags=tags)

    return dg.ScheduleDefinition(
        name=f"{job.name}_schedule", job=job, cron_schedule=pipeline.cron,
        execution_timezone=pipeline.timezone, execution_fn=_evaluate,
        description=f"pipeline {pipeline.name}: {pipeline.cron} ({pipeline.timezone}); task "
                    "vars get this tick's {{ scheduled_date }} and data interval")


def schedules(pf: pl.PipelineFile, jobs: dict[str, dg.JobDefinition]) -> list:
    return [pipeline_schedule(p, jobs[p.name]) for p in pf.pipelines.values() if p.cron]


def pipeline_definitions(pf: pl.PipelineFile, databuild: DatabuildResource | None = None,
                         **dbt_kwargs) -> dg.Definitions:
    from .dbt_assets import dbt_definitions

    jobs = {p.name: pipeline_job(pf, p, databuild) for p in pf.pipelines.values()}
    return dg.Definitions(assets=dbt_definitions(pf, **dbt_kwargs),
                          jobs=list(jobs.values()) + manual_jobs(pf, databuild),
                          schedules=schedules(pf, jobs))


def reconstruct_pipeline_job(path: str, name: str, home: str = "", airbyte_home: str = ""):
    """Module-level so Dagster can rebuild the job from a pointer in another process."""
    pf = pl.load(path)
    return pipeline_job(pf, pf.pipeline(name), DatabuildResource(home=home,
                                                                 airbyte_home=airbyte_home))


def launch_pipeline(path: str, name: str, instance: dg.DagsterInstance,
                    databuild: DatabuildResource, tags: dict | None = None,
                    run_config: dict | None = None, tick: dt.datetime | None = None):
    """``pipeline_runs.run_pipeline`` with its DatabuildResource given."""
    pipeline = pl.load(path).pipeline(name)  # validate first: clear errors before any run
    recon = dg.build_reconstructable_job(
        "resources.dagster_pipelines", "reconstruct_pipeline_job",
        reconstructable_args=(str(Path(path).resolve()), name, databuild.home,
                              databuild.airbyte_home))
    tick_config, tick_tags = tick_run_config(pipeline, tick or dt.datetime.now(dt.UTC))
    config = {**tick_config, **(run_config or {})}
    return dg.execute_job(recon, instance=instance, run_config=config,
                          tags={PIPELINE_TAG: name, **tick_tags, **(tags or {})},
                          raise_on_error=False)
