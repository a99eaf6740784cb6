"""Planning is pure: these tests give it a status function instead of a catalog."""

import pytest

from databuild_assets.core import (
    ConfigError,
    CycleError,
    Job,
    JobConfig,
    PartitionPattern,
    Status,
    materialize,
)
from databuild_assets.core.planner import plan
from databuild_assets.core.registry import Registry
from databuild_assets.examples.shop import JOBS


def status_fn(live=(), building=None):
    building = building or {}

    def fn(refs):
        out = {}
        for r in refs:
            if r in building:
                out[r] = Status(r, "building", owner=building[r])
            elif r in live:
                out[r] = Status(r, "live")
            else:
                out[r] = Status(r, "missing", ("never built",))
        return out
    return fn


REG = Registry(JOBS)
DAY = "2024-01-14"
WEEK = [f"2024-01-{d:02d}" for d in range(8, 15)]


def test_a_trailing_window_plans_each_upstream_day_once_in_dependency_order():
    g = plan(REG, status_fn(), [f"trailing_revenue/date={DAY}"])
    jobs = [n.job for n in g.nodes]
    assert jobs == ["ingest_orders"] + ["validate_orders"] * 7 + ["trailing_revenue"]
    # contiguous days are grouped into one ingest config
    assert g.nodes[0].outputs == {f"orders/date={d}" for d in WEEK}
    # a job with two output datasets is one config per day covering both
    assert g.nodes[1].outputs == {f"orders_clean/date={WEEK[0]}", f"orders_rejected/date={WEEK[0]}"}
    # QUERY inputs (fx rates) are never planned
    assert not any(n.job == "fetch_fx" for n in g.nodes)
    assert f"fx_rates/date={DAY}" not in g.reasons


def test_three_dimension_refs_of_one_day_share_one_config_and_their_upstream():
    refs = [f"region_sales/region={r}/channel={c}/date={DAY}"
            for r in ("eu", "us", "apac") for c in ("web", "store")]
    g = plan(REG, status_fn(), refs + [f"trailing_revenue/date={DAY}"])
    sales = [n for n in g.nodes if n.job == "region_sales"]
    assert len(sales) == 1 and sales[0].outputs == set(refs)
    validate = [n for n in g.nodes if n.job == "validate_orders"]
    assert len(validate) == 7  # identical outputs configured once, shared by both consumers
    order = [n.job for n in g.nodes]
    assert order.index("region_sales") > max(i for i, j in enumerate(order) if j == "validate_orders")


def test_live_inputs_are_skipped_and_inputs_being_built_elsewhere_are_delegated():
    live = {f"orders_clean/date={d}" for d in WEEK[:5]}
    g = plan(REG, status_fn(live=live, building={f"orders_clean/date={WEEK[5]}": "b-other"}),
             [f"trailing_revenue/date={DAY}"])
    assert set(g.skipped) == live
    assert g.delegated == {f"orders_clean/date={WEEK[5]}": "b-other"}
    assert [n.job for n in g.nodes] == ["ingest_orders", "validate_orders", "trailing_revenue"]
    assert g.nodes[0].outputs == {f"orders/date={DAY}"}


def test_a_fully_live_request_plans_nothing_unless_forced():
    ref = f"trailing_revenue/date={DAY}"
    assert plan(REG, status_fn(live={ref}), [ref]).nodes == []
    forced = plan(REG, status_fn(live={ref} | {f"orders_clean/date={d}" for d in WEEK}), [ref],
                  force=True)
    assert [n.job for n in forced.nodes] == ["trailing_revenue"]
    assert forced.reasons[ref] == ("forced",)


def test_mermaid_renders_jobs_partitions_and_query_edges():
    text = plan(REG, status_fn(), [f"trailing_revenue/date={DAY}"]).mermaid()
    assert text.startswith("flowchart LR")
    assert "trailing_revenue" in text and "-.->|query|" in text
    assert text.count(":::job") == 9


def _cyclic_registry():
    X = PartitionPattern("x/d={d}")
    Y = PartitionPattern("y/d={d}")

    class JX(Job):
        label, outputs = "jx", [X]

        def configure(self, refs):
            return [JobConfig(outputs=[r], inputs=materialize("y/" + r.split("/", 1)[1]))
                    for r in refs]

    class JY(Job):
        label, outputs = "jy", [Y]

        def configure(self, refs):
            return [JobConfig(outputs=[r], inputs=materialize("x/" + r.split("/", 1)[1]))
                    for r in refs]

    return Registry([JX(), JY()])


def test_cycles_are_reported_with_the_cycle():
    with pytest.raises(CycleError) as e:
        plan(_cyclic_registry(), status_fn(), ["x/d=1"])
    assert "jx(x/d=1)" in str(e.value) and "jy(y/d=1)" in str(e.value)


def test_configure_that_forgets_a_ref_or_claims_a_foreign_one_is_an_error():
    X = PartitionPattern("x/d={d}")
    Z = PartitionPattern("z/d={d}")

    class Forgetful(Job):
        label, outputs = "forgetful", [X]

        def configure(self, refs):
            return [JobConfig(outputs=[refs[0]])]

    class Greedy(Job):
        label, outputs = "greedy", [Z]

        def configure(self, refs):
            return [JobConfig(outputs=refs + ["x/d=9"])]

    reg = Registry([Forgetful(), Greedy()])
    with pytest.raises(ConfigError, match="no config for x/d=2"):
        plan(reg, status_fn(), ["x/d=1", "x/d=2"])
    with pytest.raises(ConfigError, match="which job 'forgetful' produces"):
        plan(reg, status_fn(), ["z/d=1"])
