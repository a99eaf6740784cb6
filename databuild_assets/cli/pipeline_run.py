"""What `databuild pipelines run` prints: one line per step (outcome and duration) as it ends,
and "waiting for lock X, held by run Y since T" while a step waits. Dagster's own event lines
only with --verbose.

A watcher thread reads the run's events and the lock table from the instance while the run
executes in the main thread (the run is found by a tag this invocation sets).
"""

from __future__ import annotations

import threading
import uuid

INVOCATION_TAG = "databuild/invocation"
STYLE = {"succeeded": "green", "warned": "yellow", "failed": "red", "skipped": "dim"}


def quiet_run_config(verbose: bool) -> dict:
    return {"loggers": {"console": {"config": {"log_level": "DEBUG" if verbose else "CRITICAL"}}}}


class RunPrinter:
    def __init__(self, instance, print_fn, poll: float = 0.5):
        self.instance, self.print, self.poll = instance, print_fn, poll
        self.tag = uuid.uuid4().hex
        self.run_id: str | None = None
        self.started: dict[str, float] = {}
        self.done: dict[str, str] = {}
        self.waits: set[tuple[str, str]] = set()
        self._seen = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pipeline-printer", daemon=True)

    @property
    def tags(self) -> dict:
        return {INVOCATION_TAG: self.tag}

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(10)
        self._events()  # whatever arrived after the last poll

    def _loop(self):
        while not self._stop.wait(self.poll):
            try:
                self._events()
                self._lock_waits()
            except Exception:  # noqa: BLE001 - printing must never break the run
                pass

    def _find_run(self) -> str | None:
        if self.run_id is None:
            from dagster import RunsFilter

            runs = self.instance.get_runs(RunsFilter(tags={INVOCATION_TAG: self.tag}), limit=1)
            self.run_id = runs[0].run_id if runs else None
        return self.run_id

    def _events(self):
        if not self._find_run():
            return
        logs = self.instance.all_logs(self.run_id)
        for rec in logs[self._seen:]:
            ev = rec.dagster_event
            if ev is None or not rec.step_key:
                continue
            kind = ev.event_type_value
            if kind == "STEP_START":
                self.started[rec.step_key] = rec.timestamp
            elif kind == "STEP_OUTPUT":
                meta = getattr(ev.event_specific_data, "metadata", None) or {}
                status = getattr(meta.get("status"), "value", None)
                message = getattr(meta.get("message"), "value", "")
                self._line(rec, "warned" if status == "warned" else "succeeded",
                           message if status == "warned" else "")
            elif kind == "STEP_FAILURE":
                err = ev.event_specific_data.error if ev.event_specific_data else None
                text = (getattr(ev.event_specific_data, "user_failure_data", None) and
                        ev.event_specific_data.user_failure_data.description) or \
                    (err.message.strip().splitlines()[-1] if err else "")
                self._line(rec, "failed", text)
        self._seen = len(logs)

    def _line(self, rec, outcome: str, note: str = ""):
        if rec.step_key in self.done:
            return
        self.done[rec.step_key] = outcome
        took = rec.timestamp - self.started.get(rec.step_key, rec.timestamp)
        note = f"  {note.strip()[:1500]}" if note else ""
        self.print(f"[{STYLE[outcome]}]{outcome:<9}[/] {rec.step_key}  {took:.1f}s{note}")

    def _lock_waits(self):
        from resources.locks import lock_table
        from resources.pipeline_lock import holder_text

        if not self._find_run():
            return
        for row in lock_table(self.instance):
            if row.get("state") == "queued" and row.get("run_id") == self.run_id:
                holder = holder_text(self.instance, row["lock"], exclude_run=self.run_id)
                if holder and (row["lock"], holder) not in self.waits:
                    self.waits.add((row["lock"], holder))
                    self.print(f"[yellow]waiting[/]   for lock {row['lock']}, {holder}")

    def skipped(self, step_keys: list[str]) -> None:
        for key in step_keys:
            if key not in self.done:
                self.done[key] = "skipped"
                self.print(f"[dim]skipped   {key}  (an earlier step failed)[/]")

    def summary(self, result) -> str:
        counts: dict[str, int] = {}
        for outcome in self.done.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        parts = ", ".join(f"{n} {k}" for k, n in counts.items())
        state = "[green]succeeded[/]" if result.success else "[red]FAILED[/]"
        if result.success and counts.get("warned"):
            state = "[yellow]succeeded with warnings[/]"
        return f"run {result.run_id}: {state} ({parts})"


__all__ = ["RunPrinter", "quiet_run_config"]
