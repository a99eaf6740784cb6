"""What `build --dagster` stores in Dagster per partition, now that its runs store one
"materialization planned" event per asset (not one per partition): every built partition
still has exactly one materialization with its data version and a passing freshness check, a
failed one is FAILED in Dagster's partition status with a failed check evaluation, and other
runs of the process keep Dagster's default."""

import json
import os

import dagster as dg

from databuild_assets.core import Catalog, date_range
from databuild_assets.dagster import job_asset
from databuild_assets.dagster.launcher import build_with_dagster
from databuild_assets.dagster.run_contract import SUBSET_PLANNED_ENV
from tests.support.graphs import land, make_graph


def test_build_dagster_stores_one_planned_event_per_asset_and_marks_failed_partitions_failed(
        tmp_path, monkeypatch):
    days = date_range("2024-01-01", "2024-01-05")
    for i, d in enumerate(days):
        land(tmp_path, d, [i, i + 1])
    bad = f"src/date={days[2]}"
    monkeypatch.setenv("DBTEST_ROOT", str(tmp_path))
    monkeypatch.setenv("DBTEST_OPTS", json.dumps({"fail": [bad]}))
    monkeypatch.delenv(SUBSET_PLANNED_ENV, raising=False)
    g = make_graph(tmp_path, Catalog.open(f"sqlite:///{tmp_path / 'c.db'}"), fail={bad})
    result = build_with_dagster(g, "tests.support.graphs:graph_from_env",
                                [f"src/date={d}" for d in days], dagster_home=tmp_path / "dh")
    assert sorted(result.failed) == [bad]
    assert SUBSET_PLANNED_ENV not in os.environ  # restored for the other runs of the process
    inst = dg.DagsterInstance.from_config(str(tmp_path / "dh"))
    (run,) = inst.get_runs()
    planned = inst.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED).records
    # one for the run's partition subset, one for the failed partition (its FAILED status)
    assert sorted(e.event_log_entry.dagster_event.partition or "*" for e in planned) == [
        "*", days[2]]
    st = g.status([f"src/date={d}" for d in days])
    mats = inst.fetch_materializations(dg.AssetKey("src"), limit=100).records
    assert sorted(m.partition_key for m in mats) == [d for d in days if d != days[2]]
    for m in mats:
        dv = m.asset_materialization.tags["dagster/data_version"]
        assert dv == st[f"src/date={m.partition_key}"].data_version
    pdef = job_asset(g, g.registry.jobs["load_src"]).partitions_def
    by_part = inst.get_status_by_partition(dg.AssetKey("src"), days, pdef)
    assert {k: v.value for k, v in by_part.items()} == {
        d: ("FAILED" if d == days[2] else "MATERIALIZED") for d in days}
    checks = inst.get_records_for_run(
        run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION).records
    evaluations = [e.event_log_entry.dagster_event.event_specific_data for e in checks]
    assert sorted((c.partition, c.passed) for c in evaluations) == [
        (d, d != days[2]) for d in days]  # what the UI's check column shows per partition
