"""Process-group guardian, run as a script (no package imports, started with ``python -S``).

``python -S process_guard.py PARENT_PID [--timeout S] -- ARGV...`` runs ARGV in the guardian's own process
group and session. The guardian asks the kernel for SIGTERM when its parent dies
(PR_SET_PDEATHSIG), so a SIGKILLed ``databuild`` process never leaves its dbt, connector or
shell tasks behind: on that signal (or SIGINT/SIGHUP) the whole group gets SIGTERM, then
SIGKILL after a grace period; the same after ``--timeout`` seconds (exit 124, for callers
such as dagster-dbt that cannot time a process themselves). The exit code is the command's
(128+N for a signal).
"""

import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_PDEATHSIG = 1
GRACE_S = 5.0


def _kill_group(sig: int) -> None:
    try:
        os.killpg(os.getpgrp(), sig)
    except ProcessLookupError:
        pass


def _stop(signum, frame):
    # Everything in our group gets the signal; ignore it ourselves, then escalate.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _kill_group(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            time.sleep(0.05)
    _kill_group(signal.SIGKILL)  # includes us: the group is gone


def main(argv: list[str]) -> int:
    parent, *rest = argv
    timeout = None
    if rest[:1] == ["--timeout"]:
        timeout, rest = float(rest[1]), rest[2:]
    sep, *cmd = rest or [""]
    if sep != "--" or not cmd:
        print("usage: process_guard.py PARENT_PID [--timeout S] -- ARGV...", file=sys.stderr)
        return 2
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: the caller's own kill-on-exit still applies
    if os.getpgrp() != os.getpid():  # started without a new session (e.g. by dagster-dbt)
        os.setsid()  # never signal the caller's group: ours is a new one
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, _stop)
    if os.getppid() != int(parent):  # the parent died before prctl took effect
        return 137
    try:
        child = subprocess.Popen(cmd)
    except FileNotFoundError:
        print(f"program not found: {cmd[0]}", file=sys.stderr)
        return 127
    except PermissionError:
        print(f"not executable: {cmd[0]}", file=sys.stderr)
        return 126
    try:
        code = child.wait(timeout)
    except subprocess.TimeoutExpired:
        print(f"timed out after {timeout:g} s; its process group was killed", file=sys.stderr,
              flush=True)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _kill_group(signal.SIGTERM)
        try:
            child.wait(GRACE_S)
        except subprocess.TimeoutExpired:
            pass
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os._exit(124)  # stragglers: the caller kills what is left of the group
    return 128 - code if code < 0 else code  # the caller kills what is left of the group


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
