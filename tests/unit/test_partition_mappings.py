"""Lineage inferred from configure(), without Dagster: rules per dimension, errors, and what
one run must build for the windows of the assets it selected."""

import pytest

from databuild_assets.core import Job, JobConfig, PartitionPattern, materialize, query
from databuild_assets.core.errors import DefinitionError
from databuild_assets.core.registry import Registry
from databuild_assets.dagster.mappings import lineage, parents_of, run_needs
from databuild_assets.examples.shop import JOBS as SHOP

DAY = PartitionPattern("day/date={date}", dims={"date": "date"})
CAT = PartitionPattern("cat/kind={kind}/date={date}", dims={"kind": ["a", "b"], "date": "date"})


class Day(Job):
    label, outputs = "day", [DAY]

    def configure(self, refs):
        return [JobConfig(outputs=[r]) for r in refs]


def _job(label, pattern, reads):
    class J(Job):
        def configure(self, refs):
            return [JobConfig(outputs=[r], inputs=reads(pattern.parse(r))) for r in refs]

    J.label, J.outputs = label, [pattern]
    return J()


def test_a_trailing_window_a_fan_in_and_identity_are_told_apart():
    from databuild_assets.core import date_range, shift_date

    cats = _job("cats", CAT, lambda v: materialize(DAY.format(date=v["date"])))
    per_day = PartitionPattern("per_day/date={date}", dims={"date": "date"})
    fan_in = _job("per_day", per_day, lambda v: materialize(
        *[CAT.format(kind=k, date=v["date"]) for k in ("a", "b")]))
    trail = PartitionPattern("trail/kind={kind}/date={date}",
                             dims={"kind": ["a", "b"], "date": "date"})
    window = _job("trail", trail, lambda v: materialize(*[CAT.format(kind=v["kind"], date=d)
                  for d in date_range(shift_date(v["date"], -2), v["date"])]) | query(
        DAY.format(date=v["date"])))
    reg = Registry([Day(), cats, fan_in, window])
    (dep,) = lineage(reg, cats).deps["cat"]
    assert [(r.parent_dim, r.kind) for r in dep.rules] == [("date", "identity")]
    (dep,) = lineage(reg, fan_in).deps["per_day"]
    assert {r.parent_dim: r.kind for r in dep.rules} == {"kind": "all", "date": "identity"}
    lin = lineage(reg, window)
    (dep,) = lin.deps["trail"]
    assert {r.parent_dim: (r.kind, r.start, r.end) for r in dep.rules} == {
        "kind": ("identity", 0, 0), "date": ("window", -2, 0)}
    assert lin.queries["trail"] == {"day"}  # QUERY: shown, not mapped
    assert parents_of(dep, trail, CAT, "trail/kind=b/date=2024-01-02") == [
        "cat/kind=b/date=2024-01-01", "cat/kind=b/date=2024-01-02"]  # clipped at the start


def test_a_fixed_parent_value_is_refused_with_the_job_named():
    fixed = _job("fixed", CAT, lambda v: materialize(CAT.format(kind="a", date=v["date"])))
    other = PartitionPattern("other/kind={kind}/date={date}",
                             dims={"kind": ["a", "b"], "date": "date"})
    reads_a = _job("reads_a", other, lambda v: materialize(CAT.format(kind="a", date=v["date"])))
    with pytest.raises(DefinitionError, match="job 'reads_a'.*neither the same value"):
        lineage(Registry([Day(), fixed, reads_a]), reads_a)


def test_a_run_selecting_a_window_and_its_upstream_builds_the_window_days_before_the_range():
    reg = Registry(SHOP)
    need = run_needs(reg, {"orders", "orders_clean", "trailing_revenue"},
                     ["trailing_revenue/date=2024-01-10", "orders_clean/date=2024-01-10",
                      "orders/date=2024-01-10"])
    clean = sorted(r for r in need if r.startswith("orders_clean/"))
    assert clean == [f"orders_clean/date=2024-01-{d:02d}" for d in range(4, 11)]
    assert sorted(r for r in need if r.startswith("orders/")) == [
        f"orders/date=2024-01-{d:02d}" for d in range(4, 11)]
    assert not any(r.startswith("fx_rates/") for r in need)  # QUERY inputs are never built
    alone = run_needs(reg, {"trailing_revenue"}, ["trailing_revenue/date=2024-01-10"])
    assert alone == {"trailing_revenue/date=2024-01-10"}  # upstream not in the run: not built
