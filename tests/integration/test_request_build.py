"""The `request_build` job: the UI's way to ask for partitions with their upstream. Its run
records a want, shows the plan as mermaid, and the wants sensor then launches the work."""

import dagster as dg
import pytest

from databuild_assets.core import Catalog
from databuild_assets.core.wants import list_wants
from databuild_assets.dagster import build_definitions
from databuild_assets.dagster.request_build import request_build_job
from tests.support.graphs import make_graph

REF = "trail/date=2024-03-10"


@pytest.fixture
def defs_and_graph(tmp_path, catalog_url):
    catalog = Catalog.open(catalog_url)
    graph = make_graph(tmp_path, catalog)
    assets = build_definitions(graph, catalog_url=catalog_url, data_root=str(tmp_path / "data"))
    defs = dg.Definitions.merge(assets, dg.Definitions(jobs=[request_build_job(
        graph, catalog_url=catalog_url, data_root=str(tmp_path / "data"))]))
    yield defs, graph
    catalog.dispose()


def test_a_request_from_the_launchpad_records_a_want_shows_its_plan_and_the_sensor_serves_it(
        defs_and_graph):
    defs, graph = defs_and_graph
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.get_job_def("request_build").execute_in_process(
            instance=instance, run_config={"ops": {"request_build_op": {"config": {
                "refs": [REF], "ttl": "2h", "sla": "1h", "comment": "from the UI"}}}})
        assert result.success
        (want,) = list_wants(graph.catalog)
        assert want.refs == (REF,) and want.comment == "from the UI" and want.state == "active"
        assert want.source == f"dagster:{result.run_id}"
        assert instance.get_run_by_id(result.run_id).tags["databuild/want_id"] == want.want_id
        (out,) = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
        meta = out.event_specific_data.metadata
        assert meta["want_id"].value == want.want_id
        plan = meta["plan"].value
        assert "```mermaid" in plan and "flowchart" in plan and "load_src" in plan
        assert meta["partitions_to_build"].value == 15  # trail, 7 daily, 7 src (fx: QUERY only)
        sensor = defs.get_sensor_def("databuild_wants")
        ctx = dg.build_sensor_context(instance=instance, definitions=defs)
        requests = sensor.evaluate_tick(ctx).run_requests
        assert {r.job_name for r in requests} == {"load_src__job"}  # the first wave
        assert all(r.tags["databuild/wants"] == want.want_id for r in requests)


def test_a_request_for_an_unknown_dataset_fails_with_the_reason_and_records_nothing(
        defs_and_graph):
    defs, graph = defs_and_graph
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.get_job_def("request_build").execute_in_process(
            instance=instance, raise_on_error=False,
            run_config={"ops": {"request_build_op": {"config": {"refs": ["nope/date=x"]}}}})
    assert not result.success
    failure = result.failure_data_for_node("request_build_op").error.message
    assert "request_build:" in failure and "nope" in failure
    assert list_wants(graph.catalog) == []
