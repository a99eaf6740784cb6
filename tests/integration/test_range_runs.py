"""Range runs in Dagster: a per-partition outcome and exactly one materialization per built
partition (none for one that was already live)."""

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from databuild_assets.core import Catalog
from databuild_assets.dagster import DatabuildIOManager, job_asset
from tests.support.graphs import executions, make_graph


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as inst:
        yield inst


def _run(g, tmp_path, catalog_url, instance, jobs, start, end):
    io = DatabuildIOManager(catalog_url=catalog_url, data_root=str(tmp_path / "data"))
    return dg.materialize([job_asset(g, g.registry.jobs[j]) for j in jobs], instance=instance,
                          resources={"io_manager": io}, raise_on_error=False,
                          tags={ASSET_PARTITION_RANGE_START_TAG: start,
                                ASSET_PARTITION_RANGE_END_TAG: end})


def _materializations(instance, asset):
    return instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records


def test_a_range_with_missing_inputs_builds_the_ready_partition_and_fails_the_others_with_reasons(
        tmp_path, catalog_url, instance):
    g = make_graph(tmp_path, Catalog.open(catalog_url))
    g.build(["src/date=2024-01-10"])  # inputs live for 01-10 only
    res = _run(g, tmp_path, catalog_url, instance, ["daily"], "2024-01-10", "2024-01-12")
    assert not res.success  # the run says some partitions failed
    st = g.status([f"daily/date=2024-01-1{d}" for d in (0, 1, 2)])
    assert st["daily/date=2024-01-10"].state == "live"
    for d in (1, 2):
        s = st[f"daily/date=2024-01-1{d}"]
        assert s.state == "failed"
        assert f"src/date=2024-01-1{d} (missing)" in s.reasons[0]
    failed_events = [e for e in g.catalog.events(limit=500) if e.kind == "failed"]
    assert {e.ref for e in failed_events} == {"daily/date=2024-01-11", "daily/date=2024-01-12"}
    # Dagster: one materialization (01-10), a failed observation with the reason per other day
    mats = _materializations(instance, "daily")
    assert [m.asset_materialization.partition for m in mats] == ["2024-01-10"]
    obs = instance.fetch_observations(dg.AssetKey("daily"), limit=100).records
    by_part = {o.asset_observation.partition: o.asset_observation.metadata for o in obs}
    assert set(by_part) == {"2024-01-11", "2024-01-12"}
    assert by_part["2024-01-11"]["databuild/state"].value == "failed"
    assert "src/date=2024-01-11 (missing)" in by_part["2024-01-11"]["databuild/reasons"].value
    statuses = instance.get_status_by_partition(
        dg.AssetKey("daily"), ["2024-01-10", "2024-01-11", "2024-01-12"],
        job_asset(g, g.registry.jobs["daily"]).partitions_def)
    assert {k: v.value for k, v in statuses.items()} == {
        "2024-01-10": "MATERIALIZED", "2024-01-11": "FAILED", "2024-01-12": "FAILED"}


def test_a_range_run_records_exactly_one_materialization_per_built_partition_and_none_on_rerun(
        tmp_path, catalog_url, instance):
    g = make_graph(tmp_path, Catalog.open(catalog_url))
    res = _run(g, tmp_path, catalog_url, instance, ["load_src", "daily", "split"],
               "2024-01-01", "2024-01-03")
    assert res.success
    days = ["2024-01-01", "2024-01-02", "2024-01-03"]
    for asset in ("src", "daily", "part_a", "part_b"):
        mats = [m.asset_materialization for m in _materializations(instance, asset)]
        assert sorted(m.partition for m in mats) == days, asset
        for m in mats:  # each with its own data version and manifest
            ref = f"{asset}/date={m.partition}"
            live = g.status([ref])[ref]
            assert m.tags["dagster/data_version"] == live.data_version
            assert m.metadata["manifest_id"].value == live.manifest_id
    before = len(executions(tmp_path))
    again = _run(g, tmp_path, catalog_url, instance, ["load_src", "daily", "split"],
                 "2024-01-01", "2024-01-03")
    assert again.success and len(executions(tmp_path)) == before  # nothing rebuilt
    for asset in ("src", "daily", "part_a", "part_b"):
        assert len(_materializations(instance, asset)) == 3, asset  # no new ones
        obs = instance.fetch_observations(dg.AssetKey(asset), limit=100).records
        assert len(obs) == 3 and all(
            o.asset_observation.metadata["databuild/skipped"].value.startswith("already live")
            for o in obs)
