"""Schedules of partitioned asset jobs: a databuild job that declares ``schedule`` gets a
Dagster schedule from its partitions definition; each tick requests the tick's partition."""

import datetime as dt

import dagster as dg
import pytest

from databuild_assets.core import Catalog
from databuild_assets.core.errors import DefinitionError
from databuild_assets.dagster import build_definitions
from databuild_assets.dagster.schedules import asset_job_schedules
from tests.support.graphs import make_graph


def _defs(tmp_path, catalog_url, **schedules):
    graph = make_graph(tmp_path, Catalog.open(catalog_url))
    for label, spec in schedules.items():
        graph.registry.jobs[label].schedule = spec
    assets = build_definitions(graph, catalog_url=catalog_url, data_root=str(tmp_path / "data"),
                               automation=False)
    return graph, dg.Definitions.merge(assets, dg.Definitions(
        schedules=asset_job_schedules(graph, assets.jobs)))


def _tick(defs, name, when: dt.datetime, instance):
    ctx = dg.build_schedule_context(instance=instance, scheduled_execution_time=when,
                                    repository_def=defs.get_repository_def())
    return defs.get_repository_def().get_schedule_def(name).evaluate_tick(ctx).run_requests


def test_a_scheduled_partitioned_job_requests_its_ticks_partition_which_then_builds(
        tmp_path, catalog_url):
    graph, defs = _defs(tmp_path, catalog_url, load_src=True,
                        cube={"hour_of_day": 2, "default_status": "running"})
    repo = defs.get_repository_def()
    assert {s.name for s in repo.schedule_defs} == {"load_src__schedule", "cube__schedule"}
    assert repo.get_schedule_def("cube__schedule").cron_schedule == "0 2 * * *"
    assert repo.get_schedule_def("load_src__schedule").default_status == \
        dg.DefaultScheduleStatus.STOPPED
    with dg.DagsterInstance.ephemeral() as instance:
        reqs = [_tick(defs, "load_src__schedule", dt.datetime(2024, 3, d, tzinfo=dt.UTC),
                      instance) for d in (11, 12)]
        assert [[r.partition_key for r in rs] for rs in reqs] == [["2024-03-10"], ["2024-03-11"]]
        cube = _tick(defs, "cube__schedule", dt.datetime(2024, 3, 11, 2, tzinfo=dt.UTC), instance)
        assert sorted(r.partition_key for r in cube) == sorted(  # one per static combination
            f"color={c};size={z}|2024-03-10" for c in ("red", "blue") for z in "sml")
        (req,) = reqs[0]
        result = repo.get_job("load_src__job").execute_in_process(
            instance=instance, partition_key=req.partition_key, tags=req.tags)
        assert result.success
    assert graph.status(["src/date=2024-03-10"])["src/date=2024-03-10"].state == "live"
    graph.catalog.dispose()


def test_an_unknown_schedule_option_is_a_clear_definition_error(tmp_path):
    with pytest.raises(DefinitionError, match="'load_src': unknown schedule option"):
        _defs(tmp_path, f"sqlite:///{tmp_path / 'c.db'}", load_src={"every": "day"})
