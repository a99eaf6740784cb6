"""`databuild want`, `databuild wants` and `databuild replay`, run as a user runs them."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.graphs import executions, land

REPO = Path(__file__).resolve().parents[2]
GRAPH = "tests.support.graphs:graph_from_env"


@pytest.fixture
def run(tmp_path, catalog_url):
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("DATABUILD_", "DAGSTER_"))},
           "DBTEST_ROOT": str(tmp_path), "PYTHONPATH": str(REPO),
           "DATABUILD_HOME": str(tmp_path / "home"), "DATABUILD_CATALOG_URL": catalog_url,
           "DATABUILD_GRAPH": GRAPH}

    def _run(*args, ok=True):
        p = subprocess.run([sys.executable, "-m", "databuild_assets.cli", *args], env=env,
                           capture_output=True, text=True, timeout=120)
        if ok is not None:
            assert (p.returncode == 0) == ok, (p.stdout, p.stderr)
        return p
    return _run


def test_want_records_a_want_that_wants_lists_with_its_state_and_progress(run):
    w = json.loads(run("want", "daily/date=2024-01-01..2024-01-02",
                       "--ttl", "30d", "--sla", "6h", "--comment", "for the weekly report",
                       "--json").stdout)
    assert w["refs"] == ["daily/date=2024-01-01", "daily/date=2024-01-02"]
    assert (w["state"], w["ttl_seconds"], w["sla_seconds"], w["source"]) == (
        "active", 30 * 86400, 6 * 3600, "cli")
    run("build", "daily/date=2024-01-01")
    (listed,) = json.loads(run("wants", "--json").stdout)
    assert listed["want_id"] == w["want_id"] and listed["live"] == 1
    table = run("wants").stdout
    assert w["want_id"] in table and "1/2" in table and "for the weekly report" in table
    detail = json.loads(run("wants", w["want_id"], "--json").stdout)
    assert [p["state"] for p in detail["partitions"]] == ["live", "missing"]
    assert "cancelled" in run("wants", w["want_id"], "--cancel").stdout
    assert json.loads(run("wants", "--state", "active", "--json").stdout) == []


def test_want_rejects_unknown_refs_and_bad_durations_with_clear_errors(run):
    p = run("want", "dialy/date=2024-01-01", ok=False)
    assert p.returncode == 2 and "did you mean 'daily/date={date}'" in p.stderr
    p = run("want", "daily/date=2024-01-01", "--ttl", "6 hours", ok=False)
    assert "bad duration '6 hours'" in p.stderr


def test_replay_rebuilds_a_range_and_reports_the_data_version_before_and_after(run, tmp_path):
    run("build", "src/date=2024-01-01..2024-01-03")
    land(tmp_path, "2024-01-02", [7, 8, 9])  # the source changed for one day
    built = len(executions(tmp_path))
    dry = json.loads(run("replay", "src", "--start", "2024-01-01", "--end", "2024-01-04",
                         "--dry-run", "--json").stdout)
    assert [p["change"] for p in dry["partitions"]] == ["would rebuild"] * 4
    assert "nothing was built" in dry["summary"] and len(executions(tmp_path)) == built
    out = json.loads(run("replay", "src", "--start", "2024-01-01", "--end", "2024-01-04",
                         "--json").stdout)
    rows = {p["ref"]: p for p in out["partitions"]}
    assert [rows[f"src/date=2024-01-0{d}"]["change"] for d in (1, 2, 3, 4)] == [
        "unchanged", "changed", "unchanged", "new"]
    changed = rows["src/date=2024-01-02"]
    assert changed["before"] and changed["after"] and changed["before"] != changed["after"]
    assert rows["src/date=2024-01-04"]["before"] is None
    assert out["summary"] == "1 changed, 2 unchanged, 1 new, 0 failed"
    assert len(executions(tmp_path)) == built + 4  # forced: every partition ran again
    cube = json.loads(run("replay", "cube", "--start", "2024-01-01", "--end", "2024-01-01",
                          "--where", "color=red", "--dry-run", "--json").stdout)
    assert len(cube["partitions"]) == 3  # red x {s, m, l}
