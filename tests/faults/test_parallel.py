"""Overlapping builds that each run several nodes at once (build --jobs N) still build
every partition exactly once, and waiting for another build's partition keeps working."""

import collections
import json
from pathlib import Path

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

ROUNDS = 8
DAYS = [f"2024-02-0{i}" for i in range(1, 4)]


def test_three_overlapping_parallel_builds_build_every_partition_exactly_once(
        tmp_path, catalog_url):
    Catalog.open(catalog_url).dispose()
    requests = {"a": ["top/d={d}", "fx/d={d}"], "b": ["mid/d={d}", "fx/d={d}"],
                "c": ["src/d={d}", "top/d={d}"]}
    procs = {n: spawn_runner(tmp_path, catalog_url, refs, FAULTS_ROUNDS=ROUNDS, FAULTS_NAME=n,
                             FAULTS_JOBS=2) for n, refs in requests.items()}
    try:
        for i in range(ROUNDS):
            (tmp_path / f"go-{i}").touch()
            for n, p in procs.items():
                f = Path(tmp_path / f"results-{n}.jsonl")
                wait_until(lambda f=f, i=i: f.exists() and len(f.read_text().splitlines()) > i,
                           f"build {n} to finish round {i}", p)
    finally:
        for p in procs.values():
            if p.poll() is None:
                kill_group(p)
    lines = [json.loads(x) for n in requests
             for x in (tmp_path / f"results-{n}.jsonl").read_text().splitlines()]
    bad = [x for x in lines if not x["ok"]]
    assert not bad, bad
    runs = collections.Counter(executions(tmp_path))
    assert len(runs) == ROUNDS * 4 and set(runs.values()) == {1}, runs.most_common(3)


def test_a_parallel_cli_build_waits_for_what_another_holds_and_builds_the_rest_once(
        tmp_path, catalog_url):
    c = Catalog.open(catalog_url)
    gate = str(tmp_path / "gate")
    held = f"mid/d={DAYS[0]}"
    holder = spawn_cli(tmp_path, catalog_url, [held], {"gate": {held: gate}},
                       "build", "--jobs", "2")
    wait_until(lambda: Path(gate + ".reached").exists(), "the holder's job to start", holder)
    wanted = [f"top/d={d}" for d in DAYS] + [f"fx/d={d}" for d in DAYS]
    other = spawn_cli(tmp_path, catalog_url, wanted, {"gate": {held: gate}},
                      "build", "--jobs", "2")
    # the other build finishes every independent day while it waits for the held one
    wait_until(lambda: all(c.partitions([f"top/d={d}"]).get(f"top/d={d}") is not None and
                           c.partitions([f"top/d={d}"])[f"top/d={d}"].state == "live"
                           for d in DAYS[1:]), "the other days to be built", other)
    assert c.partitions([f"top/d={DAYS[0]}"]).get(f"top/d={DAYS[0]}") is None or \
        c.partitions([f"top/d={DAYS[0]}"])[f"top/d={DAYS[0]}"].state != "live"
    Path(gate).touch()
    out_h, err_h = holder.communicate(timeout=300)
    out_o, err_o = other.communicate(timeout=300)
    assert holder.returncode == 0, out_h + err_h
    assert other.returncode == 0, out_o + err_o
    summary = json.loads(out_o)
    assert summary["ok"] and summary["delegated"] >= 1, summary
    runs = collections.Counter(executions(tmp_path))
    assert set(runs.values()) == {1}, runs.most_common(3)  # nothing built twice
    g = make_graph(tmp_path, c)
    assert_live_means_complete(g)
    assert g.plan(wanted).nodes == []
    wait_until(lambda: not leftover_processes(tmp_path), "the builds' processes to end")
