"""Real processes against one catalog: delegation, exactly-once, and crash safety."""

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from databuild_assets.core import Catalog, data_version_of
from tests.support.graphs import executions, make_graph

REPO = Path(__file__).resolve().parents[2]


def spawn(root: Path, catalog_url: str, refs: list[str], **opts) -> subprocess.Popen:
    env = {**os.environ, "DBTEST_ROOT": str(root), "DBTEST_OPTS": json.dumps(opts),
           "PYTHONPATH": str(REPO), "DATABUILD_HOME": str(root / "home")}
    return subprocess.Popen(
        [sys.executable, "-m", "databuild_assets.cli", "--graph",
         "tests.support.graphs:graph_from_env", "--catalog", catalog_url, "build", "--json", *refs],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_processes_building_overlapping_refs_execute_every_partition_exactly_once(
        tmp_path, catalog_url):
    catalog = Catalog.open(catalog_url)  # migrate once up front; both also race to migrate
    gate = tmp_path / "go"  # no job runs before both builds have planned: they must overlap
    a = spawn(tmp_path, catalog_url, ["trail/date=2024-01-14"], delay=0.15, gate=str(gate))
    b = spawn(tmp_path, catalog_url, ["trail/date=2024-01-15", "part_b/date=2024-01-12"],
              delay=0.15, gate=str(gate))
    deadline = time.time() + 180
    while time.time() < deadline and len(
            {e.build_id for e in catalog.events(limit=1000) if e.kind == "planned"}) < 2:
        time.sleep(0.05)
    gate.touch()
    catalog.dispose()
    outs = [p.communicate(timeout=240) for p in (a, b)]
    assert a.returncode == 0 and b.returncode == 0, outs
    runs = collections.Counter(executions(tmp_path))
    assert runs and max(runs.values()) == 1, [k for k, v in runs.items() if v > 1]
    # the union of both requests was built, and the overlap was shared, not rebuilt
    assert runs["load_src src/date=2024-01-08"] == 1 and runs["load_src src/date=2024-01-15"] == 1
    assert sum(1 for k in runs if k.startswith("daily ")) == 8
    summaries = [json.loads(o[0]) for o in outs]
    assert sum(s["delegated"] + s["cut_off"] for s in summaries) > 0
    g = make_graph(tmp_path, Catalog.open(catalog_url))
    assert g.plan(["trail/date=2024-01-14", "trail/date=2024-01-15"]).nodes == []


def test_a_build_killed_mid_way_leaves_no_partial_partition_and_the_next_build_finishes_the_rest(
        tmp_path, catalog_url):
    refs = [f"src/date=2024-01-{d:02d}" for d in range(1, 21)]
    p = spawn(tmp_path, catalog_url, refs, delay=0.25)
    catalog = Catalog.open(catalog_url)
    deadline = time.time() + 120
    while time.time() < deadline:
        if sum(r.state == "live" for r in catalog.partitions(refs).values()) >= 4:
            break
        time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    g = make_graph(tmp_path, catalog)
    rows = catalog.partitions(refs)
    live = [r for r in rows.values() if r.state == "live"]
    assert 4 <= len(live) < len(refs)
    manifests = catalog.manifests(r.manifest_id for r in live)
    for m in manifests.values():  # every live partition is complete and exactly as recorded
        assert data_version_of(g.store.read(m.path)) == m.data_version
    states = g.status(refs)
    assert {s.state for s in states.values()} <= {"live", "missing"}
    before = collections.Counter(executions(tmp_path))
    result = g.build(refs)
    assert result.ok
    after = collections.Counter(executions(tmp_path))
    rebuilt = {k.split(" ", 1)[1] for k in after - before}
    assert rebuilt == {r for r in refs if states[r].state == "missing"}
