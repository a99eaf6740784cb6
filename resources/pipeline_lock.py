"""`lock: pipeline`: a run holds every task lock of its pipeline from its first step to its
last, so no other run (an asset materialization, another pipeline) slips between its steps.

Built on the same Dagster concurrency pools as the task locks: the run claims one slot per
key (sorted, so two pipelines cannot deadlock) under a pseudo step, and frees them at the end
or on the first failed step. A run that dies holding them is released like any dead holder
(``locks.release_dead_holders``).
"""

from __future__ import annotations

import time

from .locks import lock_key, lock_table

LOCK_STEP = "pipeline-lock"


def pipeline_lock_keys(pf, pipeline) -> list[str]:
    from .dbt import DEFAULT_PROJECT

    project = pf.dbt_project_dir or DEFAULT_PROJECT
    return sorted({k for t in pipeline.tasks
                   if (k := lock_key(t.slug, t.params, pipeline.target, project))})


def holder_text(instance, key: str, exclude_run: str | None = None) -> str:
    """'held by run 1a2b3c4d (pipeline nightly, step x) since 10:02:03', or ''."""
    for row in lock_table(instance, [key]):
        if row.get("state") == "held" and row.get("run_id") != exclude_run:
            since = time.strftime("%H:%M:%S", time.localtime(row["since"])) \
                if row.get("since") else "?"
            return (f"held by run {row['run_id'][:8]} (pipeline {row.get('pipeline', '?')}, "
                    f"step {row.get('step') or '?'}) since {since}")
    return ""


def hold_pipeline_locks(instance, run_id: str, keys: list[str], log, poll: float = 1.0
                        ) -> None:
    storage = instance.event_log_storage
    for key in keys:
        info = storage.get_concurrency_info(key)
        if not info.slot_count:
            storage.initialize_concurrency_limit_to_default(key)
        said = ""
        while not storage.claim_concurrency_slot(key, run_id, LOCK_STEP).is_claimed:
            text = holder_text(instance, key, exclude_run=run_id)
            if text and text != said:
                log.info(f"waiting for lock {key}, {text}")
                said = text
            time.sleep(poll)
        log.info(f"holding lock {key} until the pipeline ends")


def release_pipeline_locks(instance, run_id: str) -> None:
    instance.event_log_storage.free_concurrency_slot_for_step(run_id, LOCK_STEP)
