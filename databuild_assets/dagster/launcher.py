"""`databuild build --dagster`: run a plan as Dagster runs, as few as possible.

Nodes are grouped into waves by depth; within a wave, all configs of one job become one
run over the covering partition range, with the exact refs in run config. Runs land in
the Dagster instance (visible in the UI), tagged with the build id and refs.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import dagster as dg

from resources.pools import warehouse_pool

from ..core import BuildResult, Graph
from ..core.planner import JobGraph
from ..core.scheduler import run_dag
from ..core.secrets import CATALOG_PASSWORD_ENV
from .partitions import dynamic_partitions_name, ref_to_key
from .run_child import run_in_fresh_interpreter
from .run_contract import (
    BUILD_TAG,
    CATALOG_TAG,
    FORCE_TAG,
    REFS_TAG,
    RunSpec,
    job_name,
    one_planned_event_per_asset,
    range_tags,
    refs_tag,
    run_config,
)


def reconstruct_job(graph_spec: str, catalog_url: str, data_root: str, job_name: str,
                    executor: str = "", job_timeout: float = 0.0,
                    catalog_password_env: str = CATALOG_PASSWORD_ENV):
    """Module-level so Dagster can rebuild the job from a pointer in any process. Its
    arguments are the run's DatabuildResource: the launching entry point's settings."""
    from ..graph_loader import load_graph
    from .assets import build_definitions
    from .resource import DatabuildResource

    databuild = DatabuildResource(catalog_url=catalog_url, data_root=data_root,
                                  job_timeout=job_timeout,
                                  catalog_password_env=catalog_password_env)
    defs = build_definitions(load_graph(graph_spec), catalog_url=catalog_url,
                             data_root=data_root, databuild=databuild)
    job_def = defs.resolve_job_def(job_name)
    if executor == "celery":  # steps run on Celery workers (docs/deploy.md, deploy/celery)
        from dagster_celery import celery_executor

        job_def = job_def.with_executor_def(celery_executor)
    return job_def


def plan_runs(graph: Graph, plan: JobGraph) -> list[RunSpec]:
    """Pure batching: one run per (wave, job)."""
    depth: dict[str, int] = {}
    for n in plan.nodes:  # nodes are in dependency order
        depth[n.hash] = 1 + max((depth[u] for u in plan.upstream.get(n.hash, ())), default=-1)
    groups: dict[tuple[int, str], list[str]] = defaultdict(list)
    for n in plan.nodes:
        groups[(depth[n.hash], n.job)] += sorted(n.outputs)
    specs = []
    for (wave, job), refs in sorted(groups.items()):
        keys = [ref_to_key(graph.registry.pattern(r), r) for r in refs]
        specs.append(RunSpec(job, refs, keys, wave))
    return specs


def build_with_dagster(graph: Graph, graph_spec: str, refs: list[str], *, dagster_home: Path,
                       force: bool = False, on_event=None,
                       celery: dict | None = None, jobs: int = 1,
                       catalog_password_env: str = CATALOG_PASSWORD_ENV) -> BuildResult:
    """``catalog_password_env``: the variable that carries the catalog's password to the
    runs (the CLI passes the settings' name)."""
    started = time.time()
    build_id = uuid.uuid4().hex[:12]
    plan = graph.plan(refs, force=force)
    result = BuildResult(build_id, plan)
    # refs another build is building: left to it (`databuild build` would wait for them)
    result.delegated = dict.fromkeys(plan.delegated, "left to its build")
    if on_event:
        on_event("planned", None, plan)
    specs = plan_runs(graph, plan)
    dagster_home.mkdir(parents=True, exist_ok=True)
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    catalog_arg = _catalog_for_runs(graph, catalog_password_env)
    bad: set[str] = set()
    on_event, cancel = _serialized(on_event), threading.Event()
    preds = _spec_preds(plan, specs)
    # a chain of runs (waves of one job each, the usual plan) never has two in flight: run
    # them in this process, as --jobs 1 does, instead of paying a fresh interpreter, the
    # Dagster import and the definitions load per run
    if all(i - 1 in preds[i] for i in range(1, len(specs))):
        jobs = 1
    execute = _runner(jobs, cancel)

    def launch(spec: RunSpec) -> None:
        job = graph.registry.jobs[spec.job]
        node_inputs = {i for n in plan.nodes if n.job == spec.job and set(n.outputs) & set(spec.refs)
                       for i in n.materialize_inputs}
        if node_inputs & bad:
            for r in spec.refs:
                result.failed[r] = "not run: an upstream partition failed"
            bad.update(spec.refs)
            return
        dyn = dynamic_partitions_name(job)
        if dyn:
            instance.add_dynamic_partitions(dyn, sorted({k for k in spec.keys if k}))
        recon = dg.build_reconstructable_job(
            "databuild_assets.dagster.launcher", "reconstruct_job",
            reconstructable_args=(graph_spec, catalog_arg,
                                  str(graph.data_root), job_name(spec.job),
                                  "celery" if celery else "", float(graph.job_timeout or 0.0),
                                  catalog_password_env))
        job_def = recon.get_definition()
        pdef = job_def.partitions_def
        tags = {BUILD_TAG: build_id, REFS_TAG: refs_tag(spec.refs),
                CATALOG_TAG: catalog_arg,
                FORCE_TAG: str(force and bool(set(spec.refs) & set(refs))).lower(),
                **range_tags(spec, pdef)}
        if on_event:
            on_event("run_started", spec, None)
        with execute(recon, instance=instance, tags=tags, raise_on_error=False,
                            run_config={**run_config(spec.job, spec.refs),
                                        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
                                        **({"execution": {"config": celery}} if celery else {})}) as res:
            status = "SUCCESS" if res.success else "FAILURE"
            result.runs.append({"run_id": res.run_id, "job": spec.job, "refs": len(spec.refs),
                                "status": status})
        states = graph.status(spec.refs)
        for r in spec.refs:
            if states[r].state == "live":
                result.built.append(r)
            else:
                result.failed[r] = "; ".join(states[r].reasons) or states[r].state
                bad.add(r)
        if on_event:
            on_event("run_done", spec, res)

    # up to `jobs` runs in flight, each once the runs it reads from ended; runs of jobs
    # writing one warehouse target one at a time (their ops share a Dagster pool too)
    run_dag(list(range(len(specs))), preds,
            lambda i: launch(specs[i]), jobs, on_interrupt=cancel.set,
            pool_of=lambda i: warehouse_pool(graph.registry.jobs[specs[i].job]))
    result.jobs_run = len(result.runs)
    result.seconds = time.time() - started
    return result


def _spec_preds(plan: JobGraph, specs: list[RunSpec]) -> dict[int, set[int]]:
    """Run i waits for the runs that build the plan predecessors of its nodes."""
    spec_of = {r: i for i, s in enumerate(specs) for r in s.refs}
    preds: dict[int, set[int]] = {i: set() for i in range(len(specs))}
    by_hash = {n.hash: n for n in plan.nodes}
    for n in plan.nodes:
        mine = {spec_of[r] for r in n.outputs if r in spec_of}
        for u in plan.upstream.get(n.hash, ()):
            theirs = {spec_of[r] for r in by_hash[u].outputs if r in spec_of} if u in by_hash \
                else set()
            for i in mine:
                preds[i] |= theirs - {i}
    return preds


def _serialized(fn):
    """Progress callbacks from several launching threads, one at a time."""
    if fn is None:
        return None
    lock = threading.Lock()

    def call(*args):
        with lock:
            return fn(*args)
    return call


def _runner(jobs: int, cancel: threading.Event):
    """How a run executes: in this process (one in flight), or each in a forked child of
    its own (several in flight: Dagster redirects stdout/stderr per run process-wide, so
    runs side by side need processes; the child is killed with the build, procs.py, and
    execs a fresh interpreter for the run, run_child.py)."""
    return _in_process if jobs <= 1 else functools.partial(_in_child, cancel=cancel)


@contextlib.contextmanager
def _in_process(recon, **kwargs):
    with one_planned_event_per_asset(), dg.execute_job(recon, **kwargs) as res:
        yield res


@contextlib.contextmanager
def _in_child(recon, *, instance, cancel, **kwargs):
    from ..core.procs import ChildDied, run_isolated

    home, got = instance.root_directory, {}

    def work(conn):  # a fresh interpreter, not this fork, opens the instance (run_child.py)
        conn.send(("send", run_in_fresh_interpreter(recon, home, kwargs)))

    try:
        run_isolated(work, lambda p: got.update(run=p), None, cancel)
    except ChildDied as e:
        got.setdefault("error", str(e))
    run_id, success = got.get("run", ("?", False))
    yield SimpleNamespace(run_id=run_id, success=success, error=got.get("error"))


def _catalog_for_runs(graph: Graph, password_env: str) -> str:
    """The catalog URL handed to runs, never with its password: a password travels as the
    environment variable ``password_env`` (set here for the runs this process executes),
    which the runs' DatabuildResource puts back into the URL."""
    import os

    from ..core.redact import split_url_password

    public, password = split_url_password(getattr(graph.catalog, "_raw_url", "") or "")
    if password:
        os.environ[password_env] = password
    return public
