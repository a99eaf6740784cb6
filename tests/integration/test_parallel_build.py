"""build --jobs N: independent plan nodes run side by side, a node waits for its plan
predecessors, writers to one warehouse target take turns, a failure stops only its
dependents. Overlap is read from the trace the jobs write, never from the clock."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from databuild_assets.core import Catalog
from resources.locks import lock_key
from resources.pools import warehouse_pool
from tests.support.parallel_graph import env_for, make_graph, trace

REPO = Path(__file__).resolve().parents[2]
D1, D2 = "2024-05-01", "2024-05-02"


def refs(label, *days):
    return [f"{label}/d={d}" for d in days]


def cli_build(root, catalog_url, spec, wanted, *opts):
    proc = subprocess.run(
        [sys.executable, "-m", "databuild_assets.cli", "--graph",
         "tests.support.parallel_graph:graph_from_env", "--catalog", catalog_url, "build",
         "--json", *opts, *wanted], env=env_for(root, spec), capture_output=True, text=True,
        cwd=REPO, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def spans(events) -> dict[tuple[str, str], tuple[int, int]]:
    """(label, day) -> (position of its start, position of its end) in the trace."""
    out: dict = {}
    for i, (kind, label, day) in enumerate(events):
        if kind in ("start", "end"):
            s, e = out.get((label, day), (None, None))
            out[(label, day)] = (i, e) if kind == "start" else (s, i)
    return out


def overlap(a, b) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def test_independent_nodes_run_at_the_same_time_and_a_node_waits_for_its_predecessors(
        tmp_path, catalog_url):
    spec = {"a": {"meet": ["b"]}, "b": {"meet": ["a"]}, "c": {"after": ["a", "b"]}}
    g = make_graph(tmp_path, spec, Catalog.open(catalog_url))
    result = g.build(refs("c", D1), jobs=2)
    assert result.ok, result.failed
    events = trace(tmp_path)
    # a and b each saw the other start while it was still running
    assert ("met", "a", D1) in events and ("met", "b", D1) in events, events
    s = spans(events)
    assert overlap(s[("a", D1)], s[("b", D1)])
    assert s[("c", D1)][0] > max(s[("a", D1)][1], s[("b", D1)][1])  # after both finished


def test_counts_and_events_of_a_parallel_build_match_what_ran(tmp_path, catalog_url):
    spec = {f"j{i}": {} for i in range(4)} | {"top": {"after": [f"j{i}" for i in range(4)]}}
    c = Catalog.open(catalog_url)
    g = make_graph(tmp_path, spec, c)
    days = ["2024-05-01", "2024-05-02", "2024-05-03"]
    result = g.build(refs("top", *days), jobs=3)
    assert result.ok, result.failed
    s = result.summary()
    assert (s["jobs_run"], s["partitions_built"], s["failed"], s["blocked"]) == (15, 15, 0, 0)
    built = sorted(r for label in spec for r in refs(label, *days))
    assert sorted(m.ref for m in result.manifests) == built
    available = [e.ref for e in c.events(build_id=result.build_id, limit=1000)
                 if e.kind == "available"]
    assert sorted(available) == built  # one event per partition, none lost or doubled
    assert all(len(c.manifest_history(ref=r)) == 1 for r in built)
    assert g.plan(refs("top", *days)).nodes == []


def test_a_failing_node_fails_only_its_dependents_and_independent_nodes_finish(
        tmp_path, catalog_url):
    spec = {"bad": {"fail": True}, "bad_child": {"after": ["bad"]},
            "good": {}, "good_child": {"after": ["good"]}}
    g = make_graph(tmp_path, spec, Catalog.open(catalog_url))
    result = g.build(refs("bad_child", D1) + refs("good_child", D1), jobs=2)
    assert not result.ok
    assert set(result.failed) == {f"bad/d={D1}"}
    assert set(result.blocked) == {f"bad_child/d={D1}"}
    st = g.status(refs("good", D1) + refs("good_child", D1) + refs("bad_child", D1))
    assert st[f"good/d={D1}"].state == "live" and st[f"good_child/d={D1}"].state == "live"
    assert st[f"bad_child/d={D1}"].state == "missing"
    assert ("start", "bad_child", D1) not in trace(tmp_path)
    s = result.summary()
    assert (s["jobs_run"], s["partitions_built"], s["failed"], s["blocked"]) == (3, 2, 1, 1)


def test_jobs_1_runs_one_node_at_a_time(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    spec = {"a": {"hold": 0.3}, "b": {"hold": 0.3}, "c": {"hold": 0.3}}
    out = cli_build(tmp_path, url, spec, refs("a", D1, D2) + refs("b", D1) + refs("c", D1),
                    "--jobs", "1")
    assert out["ok"] and out["jobs_run"] == 4
    s = list(spans(trace(tmp_path)).values())
    assert len(s) == 4
    assert not any(overlap(x, y) for i, x in enumerate(s) for y in s[i + 1:]), trace(tmp_path)


def test_two_writers_to_one_warehouse_target_never_overlap(tmp_path):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    spec = {"w1": {"warehouse": True, "hold": 0.5}, "w2": {"warehouse": True, "hold": 0.5},
            "free": {"meet": ["w1", "w2"]}}
    g = make_graph(tmp_path, spec)
    key = lock_key("dbt-build", {}, "dev", tmp_path / "proj")  # the task layer's dbt lock
    assert warehouse_pool(g.registry.jobs["w1"]) == warehouse_pool(g.registry.jobs["w2"]) == key
    assert key == "dbt:proj:dev" and warehouse_pool(g.registry.jobs["free"]) is None
    out = cli_build(tmp_path, url, spec, refs("w1", D1, D2) + refs("w2", D1, D2) +
                    refs("free", D1, D2), "--jobs", "3")
    assert out["ok"] and out["jobs_run"] == 6
    events = trace(tmp_path)
    s = spans(events)
    writers = [v for (label, _d), v in s.items() if label != "free"]
    assert len(writers) == 4
    assert not any(overlap(x, y) for i, x in enumerate(writers) for y in writers[i + 1:]), events
    # there were free workers: the other job ran beside a writer
    assert ("met", "free", D1) in events and ("met", "free", D2) in events, events
