"""Time limits and process trees: a job that hangs is stopped whole, and nothing a build
started outlives it (DESIGN §5, "Time limits and process trees")."""

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
from databuild_assets.core.procs import group_alive, pid_alive
from tests.support.hang_graph import make

REPO = Path(__file__).resolve().parents[2]


def _wait_for(path: Path, proc=None, limit: float = 120) -> dict:
    """Poll for a file a job writes (not a timed assertion: the limit only bounds a hang)."""
    end = time.monotonic() + limit
    while not path.exists():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"build ended early: {proc.communicate()}")
        assert time.monotonic() < end, f"{path} never appeared"
        time.sleep(0.1)
    return json.loads(path.read_text())


def _gone(pids: dict, limit: float = 60) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if not group_alive(pids["pgid"]) and not pid_alive(pids["grandchild"]):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("job", ["hang", "hang_exe"])
def test_a_hanging_job_times_out_its_whole_process_group_dies_and_the_partition_fails(
        tmp_path, catalog_url, job):
    g = make(tmp_path, Catalog.open(catalog_url), timeout=2)
    ref = f"{job}/d=1"
    result = g.build([ref])
    assert not result.ok
    assert "timed out after 2 s" in result.failed[ref], result.failed
    pids = json.loads((tmp_path / f"pids-{job}.json").read_text())
    assert pids["pgid"] != os.getpgrp()  # the job ran in a group of its own
    assert _gone(pids), f"processes of {job} survived its timeout: {pids}"
    st = g.status([ref])[ref]
    assert st.state == "failed" and "timed out after 2 s" in " ".join(st.reasons)
    events = g.catalog.events(ref=ref, limit=20)
    assert any(e.kind == "failed" and "timed out after 2 s" in e.detail.get("error", "")
               for e in events)


def _build_in_subprocess(tmp_path, catalog_url, ref, *args):
    env = {**os.environ, "DBTEST_ROOT": str(tmp_path), "PYTHONPATH": str(REPO),
           "DATABUILD_HOME": str(tmp_path / "home"), "DATABUILD_CATALOG_URL": catalog_url,
           "DATABUILD_GRAPH": "tests.support.hang_graph:graph_from_env"}
    return subprocess.Popen([sys.executable, "-m", "databuild_assets.cli", "build", ref, *args],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("job", ["hang", "hang_exe"])
def test_a_sigkilled_build_leaves_no_process_of_its_tree(tmp_path, catalog_url, job):
    build = _build_in_subprocess(tmp_path, catalog_url, f"{job}/d=1")
    pids = _wait_for(tmp_path / f"pids-{job}.json", build)
    assert group_alive(pids["pgid"])
    build.kill()
    build.wait()
    assert _gone(pids), f"the killed build's job processes survived: {pids}"


def test_sigterm_to_a_build_ends_its_job_groups_and_records_the_failure(tmp_path, catalog_url):
    build = _build_in_subprocess(tmp_path, catalog_url, "hang_exe/d=1")
    pids = _wait_for(tmp_path / "pids-hang_exe.json", build)
    build.send_signal(signal.SIGTERM)
    out, err = build.communicate(timeout=120)
    assert build.returncode != 0
    assert _gone(pids)
    assert "interrupted" in err, err
    g = make(tmp_path, Catalog.open(catalog_url))
    assert g.status(["hang_exe/d=1"])["hang_exe/d=1"].state in ("failed", "missing")


def test_the_default_timeout_comes_from_the_settings_and_the_cli(tmp_path, catalog_url):
    build = _build_in_subprocess(tmp_path, catalog_url, "hang/d=2", "--timeout", "1")
    out, err = build.communicate(timeout=120)
    assert build.returncode == 1, (out, err)
    assert "timed out after 1 s" in out
    pids = json.loads((tmp_path / "pids-hang.json").read_text())
    assert _gone(pids)


def test_a_job_marked_inline_runs_in_the_builds_own_process(tmp_path, catalog_url):
    import pandas as pd

    from databuild_assets.core import Graph, Job, JobConfig, PartitionPattern

    class Inline(Job):
        label, outputs, isolation = "inline", [PartitionPattern("inl/d={d}")], "inline"

        def configure(self, refs):
            return [JobConfig(outputs=refs)]

        def run(self, config, ctx):
            for r in config.outputs:
                ctx.write(r, pd.DataFrame({"pid": [os.getpid()]}))

    g = Graph([Inline()], Catalog.open(catalog_url), tmp_path / "data")
    result = g.build(["inl/d=1"])
    assert result.ok and int(g.store.read(result.manifests[0].path).pid[0]) == os.getpid()
