"""Find the processes a test started, by a marker in their environment (children inherit it,
whatever their command line)."""

from __future__ import annotations

import os
import time
from pathlib import Path


def processes_with_env(name: str, value: str) -> list[int]:
    """Live (non-zombie) processes whose environment holds ``name=value``."""
    needle = f"{name}={value}".encode()
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if needle in (proc / "environ").read_bytes().split(b"\0") and \
                    (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def wait_until(condition, what: str, limit: float = 120.0, every: float = 0.2):
    """Poll ``condition`` until it is truthy; fail naming ``what`` after ``limit`` seconds
    (a safety net for a hung test, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what} after {limit:g} s")
        time.sleep(every)


def stop_group(proc, grace: float = 30.0) -> None:
    """SIGTERM a process started with start_new_session=True and its whole group; SIGKILL the
    group if it is still there after ``grace`` seconds (daemons, webservers, code servers)."""
    import signal
    import subprocess

    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
