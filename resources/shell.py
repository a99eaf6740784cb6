"""Processes without a shell: argv lists, allowed working directories, redacted output, a
time limit, and a process group that never outlives the run.

:func:`run_process` is the one way the task layer starts a program (shell tasks, git, and
anything else that spawns): the program runs under ``process_guard.py`` in its own session and
process group; the guard gets SIGTERM from the kernel when this process dies (even by
SIGKILL) and takes the whole group down; a timeout or a run termination kills the group here.
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from databuild_assets.core.errors import ConfigError
from databuild_assets.core.redact import redact_args, redact_text

DEFAULT_TIMEOUT_S = 3600.0
KILL_GRACE_S = 5.0
KEEP_LINES = 2000  # output lines kept for the outcome (the log gets every line)
GUARD = Path(__file__).with_name("process_guard.py")


@dataclass
class ProcessOutcome:
    args: list[str]  # redacted
    returncode: int
    output: str  # already redacted
    timed_out: bool = False
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def redact(text: str, secrets: Iterable[str]) -> str:
    """Known secret values, then secret shapes (URL passwords, ``?token=``, bearer tokens)."""
    return redact_text(text, [s for s in secrets if s])


def check_cwd(cwd: str | None, allowed: Iterable[Path]) -> Path | None:
    if cwd is None:
        return None
    path = Path(cwd).resolve()
    allowed = [Path(a).resolve() for a in allowed]
    if not any(path == a or a in path.parents for a in allowed):
        raise ConfigError(f"working directory {path} is not allowed; allowed: "
                          f"{', '.join(str(a) for a in allowed) or 'none configured'}")
    return path


def _kill_group(pgid: int, grace: float, proc: subprocess.Popen | None = None) -> None:
    """SIGTERM the group, SIGKILL whatever is left after ``grace`` seconds."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGTERM)
    if proc is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _exited(proc: subprocess.Popen, timeout: float | None) -> bool:
    """Wait up to ``timeout`` for the guard to exit *without reaping it*, so its pid (the
    group id) cannot be reused while stragglers of its group are killed."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            if os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG):
                return True
        except ChildProcessError:
            return True
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return False
        time.sleep(delay if left is None else min(delay, left))
        delay = min(delay * 2, 0.1)


def _reap(proc: subprocess.Popen) -> int:
    """Kill any straggler left in the exited guard's group, then reap the guard."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    return proc.wait()


def run_process(args: list[str], *, cwd: str | Path | None = None, env: dict | None = None,
                timeout: float | None = DEFAULT_TIMEOUT_S, secrets: Iterable[str] = (),
                on_line: Callable[[str], None] | None = None,
                grace: float = KILL_GRACE_S) -> ProcessOutcome:
    """Run argv in its own process group; every output line is redacted before ``on_line``
    sees it. On timeout the group is killed (returncode 124, "timed out after N s"); on any
    exception in this thread (run termination) the group is killed and the exception goes on.
    """
    if not args or not all(isinstance(a, str) for a in args):
        raise ConfigError("a process needs argv: a non-empty list of strings (no shell is used)")
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"timeout must be > 0 seconds, got {timeout}")
    secrets = [s for s in secrets if s]
    full_env = {**os.environ, **{k: str(v) for k, v in (env or {}).items()}}
    lines: collections.deque[str] = collections.deque(maxlen=KEEP_LINES)
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-S", str(GUARD), str(os.getpid()), "--", *args],
                            cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", start_new_session=True)

    def read():
        for raw in proc.stdout:
            line = redact(raw.rstrip("\n"), secrets)
            lines.append(line)
            if on_line:
                with contextlib.suppress(Exception):
                    on_line(line)

    reader = threading.Thread(target=read, name=f"output-{proc.pid}", daemon=True)
    reader.start()
    timed_out = False
    try:
        if not _exited(proc, timeout):
            timed_out = True
            _kill_group(proc.pid, grace, proc)
        code = _reap(proc)
    except BaseException:  # run termination: never leave the process group behind; re-raised
        _kill_group(proc.pid, grace, proc)
        _reap(proc)
        raise
    reader.join(5)
    out = "\n".join(lines)
    if timed_out:
        note = f"timed out after {timeout:g} s; its process group was killed"
        out = f"{out}\n{note}" if out else note
        code = 124
    return ProcessOutcome(redact_args(args, secrets), code, out, timed_out,
                          round(time.monotonic() - started, 3))


def guarded_executable(folder: Path, program: str, timeout: float = DEFAULT_TIMEOUT_S) -> str:
    """A private wrapper script in ``folder`` that runs ``program`` under the process guard
    with ``timeout``: for libraries that start the program themselves (dagster-dbt's
    DbtCliResource takes an executable path)."""
    import shlex

    path = Path(folder) / f"{Path(program).name}-guarded"
    q = shlex.quote
    path.write_text(f'#!/bin/sh\nexec {q(sys.executable)} -S {q(str(GUARD))} "$PPID" '
                    f'--timeout {float(timeout):g} -- {q(program)} "$@"\n')
    path.chmod(0o700)
    return str(path)


def run(args: list[str], *, cwd: Path | None = None, env: dict | None = None,
        timeout: float = DEFAULT_TIMEOUT_S, secrets: Iterable[str] = (), log=None
        ) -> ProcessOutcome:
    """A shell task: :func:`run_process` with each (redacted) line sent to ``log.info``."""
    return run_process(args, cwd=cwd, env=env, timeout=timeout, secrets=secrets,
                       on_line=log.info if log else None)
