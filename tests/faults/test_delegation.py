"""A requested ref another build holds: its outcome is ours (`build X && use X` is safe)."""

import json
from pathlib import Path

from databuild_assets.core import Catalog
from tests.faults.conftest import (
    held_by,
    kill_group,
    leftover_processes,
    spawn_cli,
    wait_until,
)
from tests.faults.graph import executions, make_graph

REF = "src/d=2024-02-01"


def _holder_and_waiter(tmp_path: Path, catalog_url: str, holder_opts: dict):
    """Build A holds REF (its job waits at a gate); build B requests REF and waits."""
    c = Catalog.open(catalog_url)
    gate = str(tmp_path / "gate")
    a = spawn_cli(tmp_path, catalog_url, [REF], {"gate": {REF: gate}, **holder_opts})
    wait_until(lambda: Path(gate + ".reached").exists(), "build A to reach its job", a)
    a_id = held_by(c, REF)
    assert a_id
    b = spawn_cli(tmp_path, catalog_url, [REF])
    wait_until(lambda: any(e.kind == "delegated" and e.detail.get("build") == a_id
                           for e in c.events(ref=REF)), "build B to wait for A", b)
    return c, gate, a, a_id, b


def test_a_build_waiting_for_a_holder_that_succeeds_reports_the_ref_live(tmp_path, catalog_url):
    c, gate, a, _a_id, b = _holder_and_waiter(tmp_path, catalog_url, {})
    Path(gate).touch()
    out_a, out_b = a.communicate(timeout=300), b.communicate(timeout=300)
    assert a.returncode == 0 and b.returncode == 0, (out_a, out_b)
    summary = json.loads(out_b[0])
    assert summary["delegated_outcomes"] == {"live": 1} and summary["built"] == 0
    assert executions(tmp_path) == [f"src {REF}"]  # built once, by A
    assert make_graph(tmp_path, c).status([REF])[REF].state == "live"


def test_a_build_waiting_for_a_holder_that_fails_fails_naming_it(tmp_path, catalog_url):
    c, gate, a, a_id, b = _holder_and_waiter(tmp_path, catalog_url, {"fail": [REF]})
    Path(gate).touch()
    out_a, out_b = a.communicate(timeout=300), b.communicate(timeout=300)
    assert a.returncode == 1 and b.returncode == 1, (out_a, out_b)
    summary = json.loads(out_b[0])
    why = summary["failed_refs"][REF]
    assert f"being built by build {a_id}, which failed it" in why and "injected failure" in why
    assert summary["delegated_outcomes"] == {"failed": 1}
    assert executions(tmp_path) == []  # B did not retry A's failure behind its back


def test_a_build_whose_holder_is_killed_takes_over_and_builds_the_ref(tmp_path, catalog_url):
    c, _gate, a, a_id, b = _holder_and_waiter(tmp_path, catalog_url, {})
    kill_group(a)
    out_b = b.communicate(timeout=300)
    assert b.returncode == 0, out_b
    summary = json.loads(out_b[0])
    assert summary["delegated_outcomes"] == {"taken over": 1} and summary["built"] == 1
    assert executions(tmp_path) == [f"src {REF}"]  # A never got past its gate
    assert make_graph(tmp_path, c).status([REF])[REF].state == "live"
    # the killed build's job process dies with it (its group is killed by its watcher)
    wait_until(lambda: not leftover_processes(tmp_path), "A's job process to end")
    planned = [e for e in c.events() if e.kind == "planned" and e.detail.get("takeover_from")]
    assert planned and planned[0].detail["takeover_from"] == [a_id]
