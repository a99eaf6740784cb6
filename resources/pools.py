"""Pool keys: what a job must not share with another job running at the same time.

One helper for both engines: Dagster ops take it as their ``pool`` (the task layer's
concurrency pools) and ``databuild build --jobs N`` runs nodes with the same key one at a
time (the CLI hands it to the build as ``pool_of``: the runtime imports no task layer), so a
CLI build and a pipeline never disagree on what "one writer per target" means.
"""

from __future__ import annotations

from pathlib import Path


def warehouse_pool(job) -> str | None:
    """The task-lock pool of a job that writes a warehouse target (dbt or Airbyte into it):
    the same key as the dbt tasks of that target (``dbt:<project>:<target>``), so they never
    run side by side. A job's own ``pool`` attribute wins; None: no shared resource."""
    if getattr(job, "pool", None):
        return job.pool
    env = getattr(job, "env", None)
    target, project = getattr(env, "target", None), getattr(env, "dbt_project", None)
    if target is None or not ({"dbt", "airbyte"} & set(getattr(job, "kinds", ()) or ())):
        return None
    from .dbt import DEFAULT_PROJECT
    from .locks import lock_key

    return lock_key("dbt-build", {}, target.name, Path(project or DEFAULT_PROJECT))
