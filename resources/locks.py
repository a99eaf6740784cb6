"""Task locks on Dagster concurrency pools: one key per shared thing, limit 1.

Keys: ``airbyte:<connection>``, ``git:<repo>``, ``dbt:<project>:<target>``. A task runs at
most once at a time whoever asks; Dagster frees the slots of crashed runs (run monitoring).
"""

from __future__ import annotations

import re
from pathlib import Path


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.:\-]", "_", text)


def lock_key(slug: str, params: dict, target: str, project_dir: Path) -> str | None:
    if slug.startswith("airbyte-"):
        return _safe(f"airbyte:{params['connection']}")
    if slug.startswith("git-"):
        repo = params["repo"].rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
        return _safe(f"git:{repo}")
    if slug.startswith("dbt-"):
        return _safe(f"dbt:{project_dir.name}:{target}")
    return None


def lock_table(instance, keys: list[str] | None = None) -> list[dict]:
    """Each pool with its holder (run id, step, since when) and who waits for it."""
    storage = instance.event_log_storage
    keys = sorted(keys or storage.get_concurrency_keys())
    rows = []
    for key in keys:
        info = storage.get_concurrency_info(key)
        pending = {(p.run_id, p.step_key): p for p in info.pending_steps}
        for slot in info.claimed_slots:
            p = pending.pop((slot.run_id, slot.step_key), None)
            rows.append(_row(instance, key, slot.run_id, slot.step_key, "held",
                             p.assigned_timestamp if p else None))
        for (run_id, step), p in pending.items():
            rows.append(_row(instance, key, run_id, step, "queued", p.enqueued_timestamp))
        if not info.claimed_slots and not pending:
            rows.append({"lock": key, "state": "free", "limit": info.slot_count})
    return rows


def _row(instance, key, run_id, step, state, since):
    run = instance.get_run_by_id(run_id)
    return {"lock": key, "state": state, "run_id": run_id, "step": step,
            "pipeline": (run.tags.get("databuild/pipeline") or run.job_name) if run else "?",
            "since": since.timestamp() if hasattr(since, "timestamp") else since,
            "run_status": run.status.value if run else "?"}
