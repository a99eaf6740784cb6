"""Processes: liveness, process groups that die whole, and jobs run in a child with a deadline.

Every job execution runs in a forked child that is the leader of its own session and
process group (see ``run_isolated``). Everything the job starts (dbt, connectors, an
executable and its grandchildren) stays in that group, so one ``killpg`` ends the whole
tree: on timeout, when the build is interrupted (SIGTERM/SIGINT), and when the build
process is SIGKILLed (the child has PR_SET_PDEATHSIG, and a tiny watcher in the group kills
the group as soon as the build's end of a pipe closes).
"""

from __future__ import annotations

import ctypes
import os
import select
import signal
import subprocess
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection

from .liveness import pid_alive  # re-exported: resources/locks.py and tests import it here

PR_SET_PDEATHSIG = 1
_ACTIVE: set[int] = set()  # process groups of running jobs in this process
_IN_JOB = False  # True inside a job process: commands stay in the job's group
_LOCK = threading.Lock()
# Jobs may start side by side from several threads (build --jobs N). Forks are serialized and
# every job process closes the build's ends of the *other* jobs' pipes: a job holding a copy
# of another job's lifeline would keep that job's watcher from noticing the build died.
_FORK_LOCK = threading.Lock()
_PARENT_ENDS: set[int] = set()  # the build's ends of running jobs' pipes (fds)


def group_alive(pgid: int) -> bool:
    """Is any process of group ``pgid`` still running (zombies do not count)?"""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def kill_active_groups(sig: int = signal.SIGKILL) -> None:
    """End every job process group this process started (signal handlers, shutdown)."""
    with _LOCK:
        groups = list(_ACTIVE)
    for g in groups:
        kill_group(g, sig)


def set_parent_death_signal(sig: int = signal.SIGKILL) -> None:
    """Ask Linux to send ``sig`` to this process when its parent dies (no-op elsewhere)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _child_preexec() -> None:  # runs in the forked child before exec: async-signal-safe-ish
    set_parent_death_signal(signal.SIGKILL)


def run_command(argv: list[str], *, timeout: float, stdin: str | None = None,
                env: dict | None = None) -> tuple[int | None, str, str]:
    """Run argv in its own process group (inside a job process: in the job's group, which
    the build kills whole); on timeout kill the group. Returns (exit code or None on
    timeout, stdout, stderr)."""
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else None,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=not _IN_JOB, preexec_fn=_child_preexec)
    own_group = not _IN_JOB
    if own_group:
        with _LOCK:
            _ACTIVE.add(proc.pid)
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
        return proc.returncode, out, err
    except subprocess.TimeoutExpired:
        kill_group(proc.pid) if own_group else proc.kill()
        out, err = proc.communicate()
        return None, out, err
    finally:
        if own_group:
            kill_group(proc.pid)  # strays the command left behind
            with _LOCK:
                _ACTIVE.discard(proc.pid)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _watch(build_pid: int, lifeline: int) -> None:
    """The watcher: block until the build's end of the lifeline closes, then kill the group."""
    while True:
        try:
            ready, _, _ = select.select([lifeline], [], [], 1.0)
            if ready and not os.read(lifeline, 1):
                break
        except InterruptedError:
            continue
        if not pid_alive(build_pid):
            break
    os.killpg(0, signal.SIGKILL)


class TimedOut(Exception):
    pass


class ChildDied(Exception):
    pass


INTERRUPTED = "the build was interrupted; the job's process group was stopped"


def run_isolated(work: Callable[[Connection], None], serve: Callable[[object], object],
                 timeout: float | None, cancel: threading.Event | None = None) -> None:
    """Run ``work(conn)`` in a forked child in its own process group, serving its requests.

    The child sends ``("call", payload)`` (answered with ``serve(payload)``), ``("send",
    payload)`` (served, no answer) and finally ``("done", None)``. Raises TimedOut when the
    deadline passes and ChildDied when the child ends without "done" or ``cancel`` is set
    (the build was interrupted while other threads ran jobs); in every case the whole group
    is killed before this returns. Safe to call from several threads at once.
    """
    import multiprocessing

    global _IN_JOB, _FORK_LOCK, _LOCK
    with _FORK_LOCK:
        if cancel is not None and cancel.is_set():
            raise ChildDied(INTERRUPTED)
        parent_conn, child_conn = multiprocessing.Pipe()
        life_r, life_w = os.pipe()
        build_pid = os.getpid()
        pid = os.fork()
        if pid != 0:
            _PARENT_ENDS.update((parent_conn.fileno(), life_w))
            with _LOCK:
                _ACTIVE.add(pid)
    if pid == 0:  # the job process
        code = 0
        try:
            _IN_JOB = True
            _FORK_LOCK, _LOCK = threading.Lock(), threading.Lock()  # held by the forking thread
            for fd in _PARENT_ENDS:  # other jobs' lifelines and pipes: not ours to hold
                try:
                    os.close(fd)
                except OSError:
                    pass
            os.setsid()
            set_parent_death_signal(signal.SIGKILL)
            for s in (signal.SIGTERM, signal.SIGINT):
                signal.signal(s, signal.SIG_DFL)
            parent_conn.close()
            os.close(life_w)
            if os.fork() == 0:  # the watcher, in the same group
                try:
                    child_conn.close()
                    _watch(build_pid, life_r)
                finally:
                    os._exit(0)
            os.close(life_r)
            work(child_conn)
            child_conn.send(("done", None))
        except BaseException:  # noqa: BLE001 - report anything, then leave without cleanup
            code = 70
            try:
                child_conn.send(("crash", traceback.format_exc(limit=5)))
            except Exception:  # noqa: BLE001 - the parent may be gone: nothing left to tell
                pass
        finally:
            os._exit(code)
    os.close(life_r)
    child_conn.close()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        while True:
            wait = 0.5 if deadline is None else min(0.5, max(0.0, deadline - time.monotonic()))
            if cancel is not None and cancel.is_set():
                raise ChildDied(INTERRUPTED)
            if parent_conn.poll(wait):
                try:
                    kind, payload = parent_conn.recv()
                except (EOFError, OSError):
                    raise ChildDied(_exit_text(pid)) from None
                if kind == "done":
                    return
                if kind == "crash":
                    raise ChildDied(f"the job process crashed: {payload.strip().splitlines()[-1]}")
                answer = serve(payload)
                if kind == "call":
                    parent_conn.send(answer)
            elif deadline is not None and time.monotonic() >= deadline:
                raise TimedOut()
            elif not pid_alive(pid):
                if parent_conn.poll(0):
                    continue
                raise ChildDied(_exit_text(pid))
    finally:
        kill_group(pid)
        with _LOCK:
            _ACTIVE.discard(pid)
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        with _FORK_LOCK:  # no fork may copy these fds between forgetting and closing them
            _PARENT_ENDS.difference_update((parent_conn.fileno(), life_w))
            os.close(life_w)
            parent_conn.close()


def _exit_text(pid: int) -> str:
    try:
        _, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return "the job process ended without finishing"
    if os.WIFSIGNALED(status):
        return f"the job process was killed by signal {os.WTERMSIG(status)}"
    if os.WIFEXITED(status):
        return f"the job process exited with code {os.WEXITSTATUS(status)} without finishing"
    return "the job process ended without finishing"
