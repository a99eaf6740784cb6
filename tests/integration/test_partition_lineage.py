"""Dagster's partition lineage equals what configure() declares, for every job of the
example graphs: the UI's upstream partitions, backfills and staleness follow the real reads."""

from pathlib import Path

import dagster as dg
import pytest

from databuild_assets.core import DateDim, Graph, Job, JobConfig, PartitionPattern, materialize
from databuild_assets.core.config import DepType
from databuild_assets.core.errors import DefinitionError
from databuild_assets.dagster import build_definitions
from databuild_assets.dagster.partitions import key_to_ref, ref_to_key
from databuild_assets.examples.podcast_reviews.graph import PodcastEnv, make_graph
from databuild_assets.examples.shop import graph as shop
from tests.support.graphs import make_graph as support_graph

DAYS = ["2024-01-14", "2024-02-29"]


def _podcast(tmp_path: Path) -> Graph:
    from resources.targets import WarehouseTarget

    env = PodcastEnv(landing=tmp_path / "landing", target=WarehouseTarget(
        "dev", "duckdb", path=str(tmp_path / "wh.duckdb")), dbt_project=tmp_path / "dbt",
        reports_dir=tmp_path / "reports", airbyte_home=tmp_path / "airbyte")
    return make_graph(env)


def _refs_for(p: PartitionPattern) -> list[str]:
    values = {d.name: (DAYS if isinstance(d, DateDim) else list(getattr(d, "values", ())))
              for d in p.dims}
    refs = [{}]
    for name, vs in values.items():
        refs = [{**r, name: v} for r in refs for v in vs]
    return [p.format(**r) for r in refs]


def _declared(job: Job, ref: str) -> dict[str, set[str]]:
    config = next(c for c in job.configure([ref]) if ref in c.outputs)
    keep = job.inputs_of(config, ref)
    out: dict[str, set[str]] = {}
    for d in config.inputs:
        if d.dep_type is DepType.MATERIALIZE and (keep is None or d.ref in keep):
            out.setdefault(d.ref.split("/")[0], set()).add(d.ref)
    return out


def _dagster_parents(graph: Graph, ag, child: PartitionPattern, ref: str) -> dict[str, set[str]]:
    ckey = dg.AssetKey(child.dataset.split("/"))
    out: dict[str, set[str]] = {}
    for pkey in ag.get(ckey).parent_keys:
        parent = graph.registry.patterns["/".join(pkey.path)]
        if ag.get(pkey).partitions_def is None:
            out[parent.dataset] = {parent.format()}
            continue
        res = ag.get_parent_partition_keys_for_child(ref_to_key(child, ref), pkey, ckey)
        out[parent.dataset] = {key_to_ref(parent, str(k))
                               for k in res.partitions_subset.get_partition_keys()}
    return out


def _synthetic() -> Graph:  # the benchmark graph: fan-in within a static product dimension
    from benchmarks.synthetic import make_graph as synthetic

    return synthetic(regions=3, products=2)


@pytest.mark.parametrize("name", ["shop", "podcast", "test", "synthetic"])
def test_dagster_parent_partitions_equal_the_materialize_inputs_configure_declares(
        name, tmp_path):
    graph = {"shop": lambda: shop, "podcast": lambda: _podcast(tmp_path),
             "test": lambda: support_graph(tmp_path), "synthetic": _synthetic}[name]()
    ag = build_definitions(graph, automation=False).resolve_asset_graph()
    checked = 0
    for job in graph.jobs:
        for child in job.outputs:
            for ref in _refs_for(child):
                assert _dagster_parents(graph, ag, child, ref) == _declared(job, ref), ref
                checked += 1
    assert checked >= len(graph.jobs) * 2


def test_a_trailing_window_over_a_two_dimension_dataset_is_a_time_window_inside_a_multi_mapping(
        tmp_path):
    ag = build_definitions(_podcast(tmp_path), automation=False).resolve_asset_graph()
    mapping = ag.get_partition_mapping(dg.AssetKey("trailing_ratings"),
                                       dg.AssetKey("categorized_reviews"))
    assert isinstance(mapping, dg.MultiPartitionMapping)
    date = mapping.downstream_mappings_by_upstream_dimension["date"].partition_mapping
    assert (date.start_offset, date.end_offset) == (-6, 0)
    res = ag.get_parent_partition_keys_for_child(
        "news|2024-01-14", dg.AssetKey("categorized_reviews"), dg.AssetKey("trailing_ratings"))
    assert sorted(map(str, res.partitions_subset.get_partition_keys())) == [
        f"news|2024-01-{d:02d}" for d in range(8, 15)]
    summary = ag.get_partition_mapping(dg.AssetKey("daily_category_summary"),
                                       dg.AssetKey("categorized_reviews"))
    assert isinstance(summary, dg.MultiToSingleDimensionPartitionMapping)  # fan-in: category


def test_query_inputs_are_described_on_the_asset_and_are_not_lineage_edges():
    ag = build_definitions(shop, automation=False).resolve_asset_graph()
    node = ag.get(dg.AssetKey("orders_clean"))
    assert {k.to_user_string() for k in node.parent_keys} == {"orders"}
    assert node.metadata["databuild/query_inputs"].value == ["fx_rates"]
    assert "QUERY inputs" in node.description and "fx_rates" in node.description


def test_a_dependency_dagster_cannot_draw_fails_at_definition_time_naming_the_job():
    days = PartitionPattern("days/date={date}", dims={"date": "date"})
    weekly = PartitionPattern("weekly/date={date}", dims={"date": "date"})

    class Days(Job):
        label, outputs = "days", [days]

        def configure(self, refs):
            return [JobConfig(outputs=[r]) for r in refs]

    class EveryOtherDay(Job):  # reads days D-2 and D: not one contiguous window
        label, outputs = "every_other_day", [weekly]

        def configure(self, refs):
            from databuild_assets.core import shift_date

            return [JobConfig(outputs=[r], inputs=materialize(*[days.format(date=shift_date(
                weekly.parse(r)["date"], k)) for k in (-2, 0)])) for r in refs]

    with pytest.raises(DefinitionError) as err:
        build_definitions(Graph([Days(), EveryOtherDay()]), automation=False)
    msg = str(err.value)
    assert "'every_other_day'" in msg and "not one contiguous window" in msg
    assert "upstream =" in msg  # says what to declare instead


def test_a_declared_upstream_window_is_used_without_probing_configure():
    days = PartitionPattern("days/date={date}", dims={"date": "date"})
    week = PartitionPattern("week/date={date}", dims={"date": "date"})

    class Days(Job):
        label, outputs = "days", [days]

        def configure(self, refs):
            return [JobConfig(outputs=[r]) for r in refs]

    class Week(Job):
        label, outputs, upstream = "week", [week], {"days": {"date": 7}}

        def configure(self, refs):
            raise AssertionError("configure is not probed when lineage is declared")

    ag = build_definitions(Graph([Days(), Week()]), automation=False).resolve_asset_graph()
    m = ag.get_partition_mapping(dg.AssetKey("week"), dg.AssetKey("days"))
    assert (m.start_offset, m.end_offset) == (-6, 0)
