"""Task locks on Dagster concurrency pools: one key per shared thing, limit 1.

Keys: ``airbyte:<connection>``, ``git:<repo>``, ``dbt:<project>:<target>``. A task runs at
most once at a time whoever asks. A run that dies without ending (SIGKILL, OOM, power loss)
would hold its slot forever; :func:`release_dead_holders` finds holders whose process is gone
(the pid Dagster records in the run's engine events, on this host) and marks them failed and
frees their slots. Waiting runs call it every few seconds
(``databuild_assets.dagster.interrupts.interruptible_wait``), so a
stuck lock is released within seconds; ``databuild locks`` calls it too, and ``databuild locks
--release RUN|LOCK`` frees a lock by hand.
"""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

from databuild_assets.core.errors import ConfigError
from databuild_assets.core.names import LOCK, safe_name
from databuild_assets.core.procs import pid_alive

HOST_TAG = "databuild/host"


def lock_key(slug: str, params: dict, target: str, project_dir: Path) -> str | None:
    if slug.startswith("airbyte-"):
        return safe_name(f"airbyte:{params['connection']}", LOCK)
    if slug.startswith("git-"):
        path = urlsplit(params["repo"]).path or params["repo"]  # never the query (tokens)
        repo = path.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
        return safe_name(f"git:{repo}", LOCK)
    if slug.startswith("dbt-"):
        return safe_name(f"dbt:{project_dir.name}:{target}", LOCK)
    return None


def existing_instance(dagster_home: Path):
    """The Dagster instance at ``dagster_home``; a ConfigError (never a new empty instance)
    when there is none, so `databuild locks` cannot silently look at the wrong place."""
    import dagster as dg

    if not (Path(dagster_home) / "dagster.yaml").is_file():
        raise ConfigError(
            f"no Dagster instance at {dagster_home} (no dagster.yaml): set DAGSTER_HOME (or "
            "DATABUILD_HOME) to the instance your pipelines run in; `databuild pipelines run "
            "NAME` or `databuild ui` creates one there on first use")
    return dg.DagsterInstance.from_config(str(dagster_home))


def host_tags() -> dict[str, str]:
    """Run tags that let another process on this host tell whether the run is alive."""
    return {HOST_TAG: socket.gethostname()}


def run_pid(instance, run_id: str) -> tuple[int, float] | None:
    """(pid, when recorded) of the process that executes the run's steps."""
    from dagster import DagsterEventType

    for rec in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        data = rec.dagster_event.engine_event_data if rec.dagster_event else None
        pid = (data.metadata or {}).get("pid") if data else None
        if pid is not None:
            with contextlib.suppress(TypeError, ValueError):
                return int(getattr(pid, "value", pid)), rec.timestamp
    return None


def _started_at(pid: int) -> float | None:
    """Epoch start time of ``pid`` (Linux), to tell a reused pid from the run's process."""
    try:
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in Path("/proc/stat").read_text()
                    .splitlines() if line.startswith("btime"))
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def _is_local(instance, run) -> bool:
    if run.tags.get(HOST_TAG):
        return run.tags[HOST_TAG] == socket.gethostname()
    return "sqlite" in type(instance.run_storage).__name__.lower()  # a local instance


def holder_state(instance, run_id: str) -> tuple[str, str]:
    """("alive" | "dead" | "unknown", why). Dead: the run ended or vanished but kept its slot,
    or it runs on this host and its process is gone."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        return "dead", "the run no longer exists"
    if run.is_finished:
        return "dead", f"the run ended ({run.status.value}) without freeing its slot"
    if not _is_local(instance, run):
        return "unknown", "the run is on another host"
    found = run_pid(instance, run_id)
    if found is None:
        return "unknown", "the run has not recorded its process yet"
    pid, since = found
    if not pid_alive(pid):
        return "dead", f"its process {pid} is gone"
    started = _started_at(pid)
    if started is not None and started > since + 2:
        return "dead", f"its process {pid} is gone (the pid now belongs to another program)"
    return "alive", f"process {pid} is running"


def _free(instance, run_id: str, why: str) -> None:
    run = instance.get_run_by_id(run_id)
    if run is not None and not run.is_finished:
        instance.report_run_failed(run, message=f"databuild released its task locks: {why}")
    instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def _holders(instance, keys: list[str] | None = None) -> dict[str, set[str]]:
    """run id -> the locks it holds or waits for."""
    storage = instance.event_log_storage
    out: dict[str, set[str]] = {}
    for key in keys or storage.get_concurrency_keys():
        info = storage.get_concurrency_info(key)
        for item in [*info.claimed_slots, *info.pending_steps]:
            out.setdefault(item.run_id, set()).add(key)
    return out


def release_dead_holders(instance, keys: list[str] | None = None) -> list[dict]:
    """Free the locks of runs that are dead (see :func:`holder_state`); returns what was
    released, one row per run."""
    released = []
    for run_id, locks in _holders(instance, keys).items():
        state, why = holder_state(instance, run_id)
        if state == "dead":
            _free(instance, run_id, why)
            released.append({"run_id": run_id, "locks": sorted(locks), "why": why})
    return released


def release(instance, what: str, force: bool = False) -> list[dict]:
    """``databuild locks --release RUN|LOCK``: free the locks of a run (id or unique prefix)
    or every holder of a lock. A holder whose process is alive here is refused unless
    ``force`` (two tasks would run at once)."""
    holders = _holders(instance)
    by_lock = [r for r, locks in holders.items() if what in locks]
    runs = by_lock or [r for r in holders if r.startswith(what)] or (
        [what] if instance.get_run_by_id(what) else [])
    if not runs:
        known = sorted({k for locks in holders.values() for k in locks})
        raise ConfigError(f"{what!r} is neither a lock nor a run holding one; held locks: "
                          f"{', '.join(known) or 'none'} (see `databuild locks`)")
    if not by_lock and len(runs) > 1:
        raise ConfigError(f"{what!r} matches several runs ({', '.join(r[:8] for r in runs)}); "
                          "give more of the run id")
    out = []
    for run_id in runs:
        state, why = holder_state(instance, run_id)
        if state == "alive" and not force:
            raise ConfigError(f"run {run_id} is still running ({why}); stop it first "
                              f"(`dagster run delete`/terminate, or kill the process) or pass "
                              "--force to free its locks anyway")
        _free(instance, run_id, why if state == "dead" else "released by hand")
        out.append({"run_id": run_id, "locks": sorted(holders.get(run_id, ())), "why": why})
    return out


def dead_lock_sensor():
    """For deployments with a daemon: every 30 s, free the locks of dead runs (a run worker
    killed by the OOM killer holds its slot forever otherwise; Dagster's default run launcher
    cannot tell)."""
    import dagster as dg

    @dg.sensor(name="databuild_release_dead_locks", minimum_interval_seconds=30,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Frees task locks (concurrency pools) held by runs whose process "
                           "is gone, and marks those runs failed.")
    def _release(context):
        released = release_dead_holders(context.instance)
        for r in released:
            context.log.warning(f"released {', '.join(r['locks'])} held by run "
                                f"{r['run_id']}: {r['why']}")
        return dg.SkipReason(f"released the locks of {len(released)} dead run(s)" if released
                             else "no lock is held by a dead run")

    return _release


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
