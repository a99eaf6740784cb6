"""The Dagster adapter against real Dagster instances (no mocks of Dagster internals)."""

import json

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from databuild_assets.core import Catalog, date_range
from databuild_assets.dagster import DatabuildIOManager, build_definitions, job_asset
from databuild_assets.dagster.launcher import build_with_dagster, plan_runs
from databuild_assets.dagster.partitions import key_to_ref, ref_to_key
from databuild_assets.examples.shop import graph as shop
from tests.support.graphs import executions, land, make_graph


def test_defs_have_one_asset_per_dataset_with_partitions_that_follow_the_pattern():
    defs = build_definitions(shop)
    ag = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in ag.get_all_asset_keys()}
    assert keys == {"orders", "fx_rates", "orders_clean", "orders_rejected", "region_sales",
                    "channel_revenue", "trailing_revenue"}
    kinds = {k: type(ag.get(dg.AssetKey(k)).partitions_def).__name__ for k in keys}
    assert kinds["orders"] == "DailyPartitionsDefinition"  # 1 dimension
    assert kinds["channel_revenue"] == "MultiPartitionsDefinition"  # 2 dimensions
    assert kinds["region_sales"] == "MultiPartitionsDefinition"  # 3: date x (region, channel)
    rs = ag.get(dg.AssetKey("region_sales")).partitions_def
    assert "2024-01-14|region=eu;channel=web" in rs.get_partition_keys()
    parents = {k: {p.to_user_string() for p in ag.get(dg.AssetKey(k)).parent_keys} for k in keys}
    assert parents["trailing_revenue"] == {"orders_clean"}
    assert parents["orders_clean"] == {"orders"}  # QUERY inputs: described, not edges
    assert ag.get(dg.AssetKey("orders_clean")).metadata["databuild/query_inputs"].value == [
        "fx_rates"]
    assert parents["region_sales"] == {"orders_clean"} and parents["orders"] == set()


def test_partition_keys_and_refs_round_trip_for_every_layout():
    for job in shop.jobs:
        for p in job.outputs:
            ref = p.format(**{d.name: (d.values[-1] if getattr(d, "values", ()) else "2024-02-29")
                              for d in p.dims})
            assert key_to_ref(p, ref_to_key(p, ref)) == ref


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as inst:
        yield inst


def test_a_single_run_over_30_days_with_one_failure_records_29_live_partitions_and_one_failed(
        tmp_path, catalog_url, instance):
    days = date_range("2024-01-01", "2024-01-30")
    for i, d in enumerate(days):
        land(tmp_path, d, [i, i + 1])  # distinct content: distinct data versions
    catalog = Catalog.open(catalog_url)
    bad = f"src/date={days[16]}"
    g = make_graph(tmp_path, catalog, fail={bad})
    io = DatabuildIOManager(catalog_url=catalog_url, data_root=str(tmp_path / "data"))
    asset = job_asset(g, g.registry.jobs["load_src"])
    res = dg.materialize([asset], instance=instance, resources={"io_manager": io},
                         tags={ASSET_PARTITION_RANGE_START_TAG: days[0],
                               ASSET_PARTITION_RANGE_END_TAG: days[-1]}, raise_on_error=False)
    assert not res.success
    assert len(instance.get_runs()) == 1
    st = g.status([f"src/date={d}" for d in days])
    assert [r for r, s in st.items() if s.state != "live"] == [bad]
    assert st[bad].state == "failed" and "injected failure" in st[bad].reasons[0]
    versions = set()
    for d in days:
        if d == days[16]:
            continue
        rec = instance.get_latest_data_version_record(dg.AssetKey("src"), partition_key=d)
        dv = rec.asset_materialization.tags["dagster/data_version"]
        assert dv == st[f"src/date={d}"].data_version
        versions.add(dv)
    assert len(versions) == 29
    pdef = asset.partitions_def
    by_part = instance.get_status_by_partition(dg.AssetKey("src"), days, pdef)
    assert by_part[days[16]].value == "FAILED"
    assert sum(v.value == "MATERIALIZED" for v in by_part.values()) == 29
    # re-running the same range builds only the failed one
    before = len(executions(tmp_path))
    fixed = make_graph(tmp_path, catalog)
    res = dg.materialize([job_asset(fixed, fixed.registry.jobs["load_src"])], instance=instance,
                         resources={"io_manager": io},
                         tags={ASSET_PARTITION_RANGE_START_TAG: days[0],
                               ASSET_PARTITION_RANGE_END_TAG: days[-1]})
    assert res.success
    assert executions(tmp_path)[before:] == [f"load_src {bad}"]
    assert instance.get_status_by_partition(dg.AssetKey("src"), days, pdef)[days[16]].value == \
        "MATERIALIZED"


def test_a_partition_built_by_the_cli_is_skipped_by_dagster_and_reported_with_its_version(
        tmp_path, catalog_url, instance):
    catalog = Catalog.open(catalog_url)
    g = make_graph(tmp_path, catalog)
    g.build(["daily/date=2024-01-05"])
    before = len(executions(tmp_path))
    io = DatabuildIOManager(catalog_url=catalog_url, data_root=str(tmp_path / "data"))
    res = dg.materialize([job_asset(g, g.registry.jobs["daily"])], instance=instance,
                         resources={"io_manager": io}, partition_key="2024-01-05")
    assert res.success and len(executions(tmp_path)) == before
    mat = res.asset_materializations_for_node("daily")[0]
    assert mat.metadata["databuild/skipped"].value.startswith("already live and fresh")
    live = g.status(["daily/date=2024-01-05"])["daily/date=2024-01-05"]
    assert mat.tags["dagster/data_version"] == live.data_version
    assert mat.metadata["manifest_id"].value == live.manifest_id


def test_databuild_build_dagster_batches_the_plan_into_one_run_per_job_and_wave(
        tmp_path, catalog_url, monkeypatch):
    monkeypatch.setenv("DBTEST_ROOT", str(tmp_path))
    catalog = Catalog.open(catalog_url)
    g = make_graph(tmp_path, catalog)
    refs = ["trail/date=2024-01-14", "cube/color=red/size=m/date=2024-01-14"]
    specs = plan_runs(g, g.plan(refs))
    assert [(s.job, len(s.refs)) for s in specs] == [
        ("load_src", 7), ("daily", 7), ("split", 2), ("trail", 1), ("cube", 1)]
    result = build_with_dagster(g, "tests.support.graphs:graph_from_env", refs,
                                dagster_home=tmp_path / "dh")
    assert result.ok, result.failed
    assert len(result.runs) == 5
    inst = dg.DagsterInstance.from_config(str(tmp_path / "dh"))
    runs = inst.get_runs()
    assert len(runs) == 5 and all(r.tags["databuild/build_id"] == result.build_id for r in runs)
    assert all(s.state == "live" for s in g.status(refs).values())
    # the same manifests as a CLI build: the CLI now has nothing to do
    assert g.plan(refs).nodes == []
    events = {e.kind for e in catalog.events(limit=1000)}
    assert {"planned", "building", "available"} <= events
    assert json.loads(json.dumps(result.summary()))["dagster_runs"] == 5


def test_the_staleness_sensor_reports_a_taint_to_dagster_with_its_reasons(
        tmp_path, catalog_url, instance):
    from sensors.staleness import build_staleness_sensor

    g = make_graph(tmp_path, Catalog.open(catalog_url))
    g.build(["daily/date=2024-01-05"])
    sensor = build_staleness_sensor(g)
    ctx = dg.build_sensor_context(instance=instance)
    assert "2 partition status change(s)" in sensor(ctx).skip_message  # src and daily
    g.taint("src/date=2024-01-05", "truncated export")
    ctx2 = dg.build_sensor_context(instance=instance, cursor=ctx.cursor)
    assert "2 partition status change(s)" in sensor(ctx2).skip_message

    def latest(asset, key):
        recs = instance.fetch_observations(dg.AssetRecordsFilter(
            asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=1).records
        return {k: v.value for k, v in recs[0].asset_observation.metadata.items()}

    assert latest("src", "2024-01-05") == {"databuild/state": "tainted",
                                           "databuild/reasons": "tainted: truncated export"}
    daily = latest("daily", "2024-01-05")
    assert daily["databuild/state"] == "stale" and "truncated export" in daily["databuild/reasons"]
    assert g.status(["daily/date=2024-01-05"])["daily/date=2024-01-05"].state == "stale"


def test_one_dagster_run_over_a_range_of_all_assets_builds_every_job_in_order(
        tmp_path, catalog_url, instance):
    catalog = Catalog.open(catalog_url)
    g = make_graph(tmp_path, catalog)
    io = DatabuildIOManager(catalog_url=catalog_url, data_root=str(tmp_path / "data"))
    assets = [job_asset(g, g.registry.jobs[j]) for j in ("load_src", "daily")]
    res = dg.materialize(assets, instance=instance, resources={"io_manager": io},
                         tags={ASSET_PARTITION_RANGE_START_TAG: "2024-01-01",
                               ASSET_PARTITION_RANGE_END_TAG: "2024-01-05"})
    assert res.success
    refs = [f"daily/date=2024-01-0{i}" for i in range(1, 6)]
    assert all(s.state == "live" for s in g.status(refs).values())
    for i, r in enumerate(refs, 1):
        rec = instance.get_latest_data_version_record(dg.AssetKey("daily"),
                                                      partition_key=f"2024-01-0{i}")
        live = g.status([r])[r].data_version
        assert rec.asset_materialization.tags["dagster/data_version"] == live


def test_the_code_location_has_one_asset_per_table_across_databuild_jobs_and_dbt_models(
        tmp_path, monkeypatch):
    """The podcast graph's dbt jobs build categorized_reviews and daily_category_summary; the
    dbt models of those names are the same asset nodes, not a second warehouse/... node."""
    from databuild_assets import definitions

    for k in [k for k in __import__("os").environ if k.startswith(("DATABUILD_", "DAGSTER_"))]:
        monkeypatch.delenv(k)
    monkeypatch.setenv("DATABUILD_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("DATABUILD_TARGET", "prod")  # the dbt assets follow the run's target
    ag = definitions.defs().resolve_asset_graph()
    keys = list(ag.get_all_asset_keys())
    tables = [k.path[-1] for k in keys if k.path[0] != "airbyte"]
    assert sorted(tables) == sorted(set(tables)), "two asset nodes for one table"
    assert dg.AssetKey(["warehouse", "stg_reviews"]) in keys  # dbt-only models stay dbt's
    assert dg.AssetKey(["warehouse", "categorized_reviews"]) not in keys
    summary = ag.get(dg.AssetKey("daily_category_summary"))
    assert summary.metadata["databuild/job"] == "dbt_summary"  # the one definition
    stg = ag.get(dg.AssetKey(["warehouse", "stg_reviews"]))
    assert {k.to_user_string() for k in stg.parent_keys} == {"validated_reviews"}
    # databuild jobs writing the warehouse share the dbt task lock of the run's target
    assert ag.get(dg.AssetKey("categorized_reviews")).pools == {"dbt:dbt_project:prod"}
    assert ag.get(dg.AssetKey("reviews")).pools == {"dbt:dbt_project:prod"}  # Airbyte into it
    assert stg.pools == {"dbt:dbt_project:prod"}
    assert ag.get(dg.AssetKey("phrase_stats")).pools == set()  # parquet only
