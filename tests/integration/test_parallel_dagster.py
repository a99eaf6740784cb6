"""build --dagster --jobs N keeps several runs in flight: runs of one wave overlap (read
from the jobs' trace), a run starts when the runs it reads from ended, and every
partition lands once, in the catalog and in Dagster."""

from __future__ import annotations

import collections
import json

import dagster as dg

from databuild_assets.core import Catalog
from databuild_assets.dagster.launcher import build_with_dagster
from tests.support.parallel_graph import make_graph, trace

DAYS = ["2024-05-01", "2024-05-02"]
SPEC = {"a": {"meet": ["b"]}, "b": {"meet": ["a"]}, "c": {"after": ["a", "b"]}}


def test_build_dagster_keeps_several_runs_in_flight_and_lands_every_partition_once(
        tmp_path, monkeypatch):
    monkeypatch.setenv("PARALLEL_ROOT", str(tmp_path))
    monkeypatch.setenv("PARALLEL_SPEC", json.dumps(SPEC))
    catalog = Catalog.open(f"sqlite:///{tmp_path / 'c.db'}")
    g = make_graph(tmp_path, SPEC, catalog)
    wanted = [f"c/d={d}" for d in DAYS]
    result = build_with_dagster(g, "tests.support.parallel_graph:graph_from_env", wanted,
                                dagster_home=tmp_path / "dh", jobs=2)
    assert result.ok, (result.failed, result.runs)
    assert sorted(r["job"] for r in result.runs) == ["a", "b", "c"]
    events = trace(tmp_path)
    # the runs of a and b were in flight together: each job saw its partner start
    assert all(("met", j, d) in events for j in ("a", "b") for d in DAYS), events
    pos = {(k, j, d): i for i, (k, j, d) in enumerate(events)}
    assert min(pos[("start", "c", d)] for d in DAYS) > max(
        pos[("end", j, d)] for j in ("a", "b") for d in DAYS)
    built = [f"{j}/d={d}" for j in SPEC for d in DAYS]
    assert all(len(catalog.manifest_history(ref=r)) == 1 for r in built)
    inst = dg.DagsterInstance.from_config(str(tmp_path / "dh"))
    runs = inst.get_runs()
    assert len(runs) == 3 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
    landed = collections.Counter(
        (j, rec.partition_key) for j in SPEC
        for rec in inst.fetch_materializations(dg.AssetKey(j), limit=100).records)
    assert sorted(landed) == sorted((j, f"d={d}") for j in SPEC for d in DAYS), landed
    assert set(landed.values()) == {1}, landed
