"""SIGKILL of a build at five points: no live partition without its data, nothing of the
killed build's process tree left, and the next build completes only what is missing."""

from pathlib import Path

import pytest

from databuild_assets.core import Catalog
from tests.faults.conftest import (
    assert_live_means_complete,
    kill_group,
    leftover_processes,
    spawn_cli,
    spawn_runner,
    wait_until,
)
from tests.faults.graph import executions, make_graph

D = "2024-02-01"
SRC, MID, TOP = f"src/d={D}", f"mid/d={D}", f"top/d={D}"


@pytest.mark.parametrize("point", ["after_claim", "mid_execute", "before_commit",
                                   "between_nodes", "delegation_wait"])
def test_a_build_killed_at_any_point_leaves_consistent_state_and_the_next_build_finishes(
        tmp_path, catalog_url, point):
    c = Catalog.open(catalog_url)
    holder = None
    gate = str(tmp_path / "gate")
    if point == "mid_execute":
        victim = spawn_runner(tmp_path, catalog_url, [TOP], {"gate": {MID: gate}})
        wait_until(lambda: Path(gate + ".reached").exists(), "the job to start", victim)
    elif point == "delegation_wait":
        holder = spawn_cli(tmp_path, catalog_url, [MID], {"gate": {MID: gate}})
        wait_until(lambda: Path(gate + ".reached").exists(), "the holder's job", holder)
        victim = spawn_runner(tmp_path, catalog_url, [TOP])
        wait_until(lambda: any(e.kind == "delegated" for e in c.events(ref=MID)),
                   "the victim to wait for the holder", victim)
    else:
        victim = spawn_runner(tmp_path, catalog_url, [TOP], FAULTS_PAUSE=point)
        wait_until(lambda: (tmp_path / "paused").exists(), f"the build to pause {point}", victim)
    kill_group(victim)
    if holder is not None:
        Path(gate).touch()
        assert holder.wait(timeout=300) == 0, holder.communicate()
        holder.communicate()
    # the killed build's job process dies with it (its group is killed by its watcher)
    wait_until(lambda: not leftover_processes(tmp_path), "the killed build's processes to end")
    g = make_graph(tmp_path, c)
    rows = assert_live_means_complete(g)  # no live partition without its exact data
    st = g.status([SRC, MID, TOP])
    assert {s.state for s in st.values()} <= {"live", "missing"}, st
    expected_live = {"after_claim": set(), "mid_execute": {SRC}, "before_commit": set(),
                     "between_nodes": {SRC}, "delegation_wait": {SRC, MID}}[point]
    assert {r for r, s in st.items() if s.state == "live"} == expected_live, rows
    before = len(executions(tmp_path))
    result = g.build([TOP])
    assert result.ok, result.failed
    rebuilt = {e.split(" ", 1)[1] for e in executions(tmp_path)[before:]}
    assert rebuilt == {r for r, s in st.items() if s.state == "missing"}
