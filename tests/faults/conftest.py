"""Shared helpers of the fault suite: builds in real subprocesses (the CLI or the fault
runner), waiting on catalog facts, killing whole process groups, and the invariants every
fault must keep (no live partition without its exact data, no process left behind)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from databuild_assets.core import Catalog

REPO = Path(__file__).resolve().parents[2]
WAIT = 180.0  # a safety net against hangs on a loaded machine, not a timing assertion


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.faults)


def env_for(root: Path, catalog_url: str, opts: dict | None = None, **extra) -> dict:
    return {**os.environ, "FAULTS_ROOT": str(root), "FAULTS_OPTS": json.dumps(opts or {}),
            "FAULTS_CATALOG": catalog_url, "PYTHONPATH": str(REPO),
            "DATABUILD_HOME": str(root / "home"), **{k: str(v) for k, v in extra.items()}}


def spawn_cli(root: Path, catalog_url: str, refs: list[str], opts: dict | None = None,
              *args: str) -> subprocess.Popen:
    """``databuild build --json REFS`` in its own process group."""
    return subprocess.Popen(
        [sys.executable, "-m", "databuild_assets.cli", "--graph",
         "tests.faults.graph:graph_from_env", "--catalog", catalog_url, *(args or ("build",)),
         "--json", *refs], env=env_for(root, catalog_url, opts), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=REPO)


def spawn_runner(root: Path, catalog_url: str, refs: list[str], opts: dict | None = None,
                 **extra) -> subprocess.Popen:
    """The fault runner (tests/faults/runner.py) in its own process group."""
    return subprocess.Popen(
        [sys.executable, "-m", "tests.faults.runner", *refs],
        env=env_for(root, catalog_url, opts, **extra), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=REPO)


def wait_until(cond, what: str, proc: subprocess.Popen | None = None):
    deadline = time.time() + WAIT
    while time.time() < deadline:
        value = cond()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"process ended before {what}: {proc.returncode}\n{out}\n{err}")
        time.sleep(0.05)
    raise AssertionError(f"gave up waiting for {what}")


def kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def held_by(catalog: Catalog, ref: str) -> str | None:
    row = catalog.partitions([ref]).get(ref)
    return row.owner if row is not None and row.state == "building" else None


def leftover_processes(root: Path, exclude=()) -> list[int]:
    """Processes still running with this test's FAULTS_ROOT (a build's whole tree has it)."""
    marker = f"FAULTS_ROOT={root}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in exclude or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if marker not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{entry}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        found.append(int(entry))
    return found


def assert_live_means_complete(graph) -> dict:
    """Every live partition has its manifest and exactly the data it records."""
    rows = {r.ref: r for r in graph.catalog.partitions_of()}
    live = {r: row for r, row in rows.items() if row.state == "live"}
    manifests = graph.catalog.manifests(row.manifest_id for row in live.values())
    for row in live.values():
        m = manifests[row.manifest_id]
        graph.store.read_verified(m.path, m.size, m.data_version)  # raises when damaged
    return rows
