"""Signals and dead lock holders while an in-process Dagster execution waits for a task lock.

Dagster captures SIGTERM/SIGINT during ``execute_job`` and looks at them only when the next
step starts, which a run waiting for a task lock never does. This watcher turns such a
signal into Dagster's own interrupt in the main thread (the run ends CANCELED and drops its
pending claims) and frees the locks of dead runs meanwhile. It lives in the Dagster adapter,
not the task layer, because it drives Dagster's execution; the internals it needs come from
the run contract, the one module that imports them.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time

import dagster as dg

from resources.locks import release_dead_holders, run_pid

from .run_contract import check_captured_interrupt

CHECK_EVERY_S = 10.0
_WATCHING = threading.Event()


def _mark_canceling(instance) -> None:
    """The started runs this process executes: a termination request, as Dagster's own."""
    for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]), limit=50):
        found = run_pid(instance, run.run_id)
        if found and found[0] == os.getpid():
            instance.report_run_canceling(run, message="stopped by a signal while waiting "
                                                       "for a task lock")


def _raise_in(thread_id: int, exc_type: type[BaseException]) -> None:
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exc_type))


@contextlib.contextmanager
def interruptible_wait(instance, interval: float = 0.5, check_every: float = CHECK_EVERY_S,
                       log=None):
    """Wrap an in-process Dagster execution (``execute_job``) in the main thread so that:

    * SIGTERM/SIGINT end it while a step waits for a task lock. Dagster captures the signal
      there and only looks at it when the next step starts, which a waiting run never does; a
      watcher sees the captured signal outlive one poll and raises Dagster's own interrupt in
      the main thread, so the run ends CANCELED and its pending claims are dropped.
    * locks held by dead runs are released every ``check_every`` seconds meanwhile.
    """
    main = threading.main_thread()
    if threading.current_thread() is not main or _WATCHING.is_set():
        yield  # one watcher per process (the CLI's and the pipeline resource's may nest)
        return
    _WATCHING.set()
    stop = threading.Event()

    def watch():
        seen, last_check = 0, 0.0
        while not stop.wait(interval):
            seen = seen + 1 if check_captured_interrupt() else 0
            if seen >= 2:  # not consumed by a starting step: the run is waiting
                with contextlib.suppress(Exception):
                    _mark_canceling(instance)  # so Dagster ends it CANCELED, not FAILURE
                _raise_in(main.ident, dg.DagsterExecutionInterruptedError)
                seen = -10  # once; give the main thread time to unwind
            if time.monotonic() - last_check >= check_every:
                last_check = time.monotonic()
                with contextlib.suppress(Exception):
                    for row in release_dead_holders(instance):
                        if log:
                            log(f"released {', '.join(row['locks'])} held by run "
                                f"{row['run_id'][:8]}: {row['why']}")

    watcher = threading.Thread(target=watch, name="databuild-lock-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(5)
        _WATCHING.clear()
