"""Trailing windows through Dagster's own launch paths, from an empty instance: `dagster asset
materialize` over a range and an asset backfill run by `dagster-daemon` build the window days
upstream of the range too; and the code location has one asset per table."""

import os
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from databuild_assets.core import Catalog
from tests.support.procs import stop_group

# subprocess runs and a daemon on shared cores: time limits, not assertions on speed
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1500)]
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DAGSTER_YAML = """\
telemetry: {enabled: false}
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config: {max_concurrent_runs: 2, dequeue_interval_seconds: 1}
"""


def _env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABUILD_", "DAGSTER_"))}
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    env.update(DATABUILD_HOME=str(tmp_path / "state"), DAGSTER_HOME=str(home),
               PYTHONPATH=str(REPO), DATABUILD_GRAPH="databuild_assets.examples.shop:graph",
               DATABUILD_PIPELINES_FILE=str(tmp_path / "no-pipelines.yaml"))
    return env


def _shop_catalog(env) -> Catalog:
    return Catalog.open(f"sqlite:///{Path(env['DATABUILD_HOME']) / 'catalog.db'}")


def _mats(instance, asset) -> list[str]:
    recs = instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records
    return sorted(r.asset_materialization.partition for r in recs)


def test_materializing_a_trailing_window_range_with_upstream_builds_the_window_days_first(
        tmp_path):
    env = _env(tmp_path)
    p = subprocess.run([str(BIN / "dagster"), "asset", "materialize", "-m",
                        "databuild_assets.definitions", "--select", "*trailing_revenue",
                        "--partition-range", "2024-01-04...2024-01-05"],
                       env=env, capture_output=True, text=True, timeout=900, cwd=REPO)
    assert p.returncode == 0, (p.stdout + p.stderr)[-3000:]
    assert "also building 6 partition(s) that other assets of this run read" in p.stderr
    catalog = _shop_catalog(env)
    rows = {r.ref: r.state for r in catalog.partitions_of("orders_clean")}
    window = [f"orders_clean/date=2023-12-{d}" for d in (29, 30, 31)] + [
        f"orders_clean/date=2024-01-0{d}" for d in range(1, 6)]
    assert sorted(rows) == window and set(rows.values()) == {"live"}
    trailing = {r.ref: r.state for r in catalog.partitions_of("trailing_revenue")}
    assert trailing == {"trailing_revenue/date=2024-01-04": "live",
                        "trailing_revenue/date=2024-01-05": "live"}
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    assert _mats(instance, "trailing_revenue") == ["2024-01-04", "2024-01-05"]  # one each
    assert _mats(instance, "orders_clean") == sorted(r.split("=")[1] for r in window)


def _with_upstream(ag, key, partitions) -> dict:
    """The partitions of ``key`` and, through Dagster's partition mappings, every upstream
    partition they read (what a backfill "with upstream" targets)."""
    want = {key: set(partitions)}
    frontier = [(key, p) for p in partitions]
    while frontier:
        k, p = frontier.pop()
        for parent in ag.get_parents_partitions(k, p).parent_partitions:
            if parent.partition_key not in want.setdefault(parent.asset_key, set()):
                want[parent.asset_key].add(parent.partition_key)
                frontier.append((parent.asset_key, parent.partition_key))
    return want


def _backfill(instance, ag, wanted: dict, title: str) -> str:
    from dagster._core.definitions.assets.graph.asset_graph_subset import AssetGraphSubset
    from dagster._core.execution.backfill import PartitionBackfill
    from dagster._core.utils import make_new_backfill_id

    subset = AssetGraphSubset(partitions_subsets_by_asset_key={
        k: ag.get(k).partitions_def.subset_with_partition_keys(sorted(v))
        for k, v in wanted.items()})
    backfill = PartitionBackfill.from_asset_graph_subset(
        backfill_id=make_new_backfill_id(), backfill_timestamp=time.time(), tags={},
        dynamic_partitions_store=instance, asset_graph_subset=subset, title=title,
        description=None, run_config=None)
    instance.add_backfill(backfill)
    return backfill.backfill_id


def _wait_backfill(instance, backfill_id: str, log: Path):
    from dagster._core.execution.backfill import BulkActionStatus

    deadline = time.time() + 900  # generous: a shared, loaded machine
    while time.time() < deadline:
        status = instance.get_backfill(backfill_id).status
        if status != BulkActionStatus.REQUESTED:
            break
        time.sleep(1)
    assert status == BulkActionStatus.COMPLETED_SUCCESS, (status, log.read_text()[-3000:])


def _mat_records(instance, asset, backfill_id=None) -> list:
    """Materializations of ``asset`` (of one backfill's runs when given), oldest first."""
    recs = instance.fetch_materializations(dg.AssetKey(asset), limit=1000).records
    if backfill_id:
        recs = [r for r in recs if instance.get_run_by_id(r.run_id).tags.get(
            "dagster/backfill") == backfill_id]
    return recs[::-1]


def _built(recs) -> list[str]:
    return sorted(r.asset_materialization.partition for r in recs
                  if "databuild/skipped" not in r.asset_materialization.metadata)


def test_a_backfill_with_upstream_run_by_the_daemon_builds_the_trailing_windows(tmp_path):
    """The code location's own sensors run beside the backfill (as for a user): the
    propagation sensor may build the trailing partitions before the backfill's run does. The
    backfill must succeed either way, and so must a second backfill of partitions already
    live, which rebuilds nothing."""
    from databuild_assets.dagster import build_definitions
    from databuild_assets.examples.shop import graph

    env = _env(tmp_path)
    (tmp_path / "workspace.yaml").write_text(
        "load_from:\n  - python_module:\n      module_name: databuild_assets.definitions\n"
        f"      working_directory: {REPO}\n      location_name: databuild\n")
    instance = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    ag = build_definitions(graph, automation=False).resolve_asset_graph()
    # the trailing partitions wanted, and the upstream partitions Dagster maps their windows to
    trailing = dg.AssetKey("trailing_revenue")
    wanted = _with_upstream(ag, trailing, ["2024-01-09", "2024-01-10"])
    assert sorted(wanted[dg.AssetKey("orders_clean")]) == [
        f"2024-01-{d:02d}" for d in range(3, 11)]
    first = _backfill(instance, ag, wanted, "trailing revenue with its windows")
    log = tmp_path / "daemon.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w",
                                 str(tmp_path / "workspace.yaml")], env=env, cwd=tmp_path,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_backfill(instance, first, log)
        catalog = _shop_catalog(env)
        clean = sorted(r.ref for r in catalog.partitions_of("orders_clean") if r.state == "live")
        assert clean == [f"orders_clean/date=2024-01-{d:02d}" for d in range(3, 11)]  # windows
        live = {r.ref: r.manifest_id for r in catalog.partitions_of("trailing_revenue")
                if r.state == "live"}
        assert sorted(live) == [f"trailing_revenue/date=2024-01-{d:02d}" for d in (9, 10)]
        # built once each (by the backfill or the sensors), and counted by the backfill
        assert _built(_mat_records(instance, "trailing_revenue")) == ["2024-01-09", "2024-01-10"]
        assert sorted(r.asset_materialization.partition for r in _mat_records(
            instance, "trailing_revenue", first)) == ["2024-01-09", "2024-01-10"]
        # the same partitions again: already live, so the backfill's run skips and succeeds
        again = _backfill(instance, ag, {trailing: {"2024-01-09", "2024-01-10"}}, "again")
        _wait_backfill(instance, again, log)
    finally:
        stop_group(proc)
    assert {r.ref: r.manifest_id for r in catalog.partitions_of("trailing_revenue")
            if r.state == "live"} == live  # nothing rebuilt
    recs = _mat_records(instance, "trailing_revenue", again)
    assert sorted(r.asset_materialization.partition for r in recs) == ["2024-01-09", "2024-01-10"]
    assert all("databuild/skipped" in r.asset_materialization.metadata for r in recs)
    assert {r.asset_materialization.tags["databuild/manifest_id"] for r in recs} == set(
        live.values())
    assert _built(_mat_records(instance, "trailing_revenue")) == ["2024-01-09", "2024-01-10"]
