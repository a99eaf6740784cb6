"""The wants sensor's decisions, without Dagster: wants + catalog state + runs in flight +
clock -> exactly which batched runs to launch, which wants close, which SLA breaches."""

import pytest

from databuild_assets.core import Status, date_range
from databuild_assets.core.planner import plan
from databuild_assets.core.wants import RetryState, Want
from sensors.decisions import Batch, contiguous_batches, decide_wants
from tests.support.graphs import make_graph

NOW = 1_000_000.0


@pytest.fixture
def registry(tmp_path):
    return make_graph(tmp_path).registry  # no catalog is opened: planning uses `states`


def decide(registry, wants, states, in_flight=(), retries=None, now=NOW, owners=None):
    def status(refs):
        return {r: Status(r, states.get(r, "missing"), owner=(owners or {}).get(r))
                for r in refs}

    wanted = {r for w in wants for r in w.refs}
    return decide_wants(registry, wants, {r: status([r])[r].state for r in wanted},
                        lambda refs: plan(registry, status, refs), set(in_flight),
                        retries or {}, now)


def want(*refs, wid="w1", **kw):
    return Want(wid, tuple(refs), created_at=kw.pop("created_at", NOW - 10), **kw)


def src(*days):
    return [f"src/date={d}" for d in days]


def daily(*days):
    return [f"daily/date={d}" for d in days]


WEEK = date_range("2024-01-04", "2024-01-10")


def test_a_want_for_a_report_whose_inputs_are_missing_launches_the_first_wave_in_one_run(registry):
    d = decide(registry, [want("trail/date=2024-01-10")], {})
    assert d.batches == [Batch("load_src", tuple(src(*WEEK)), ("w1",), 1, None)]
    assert d.waiting["trail/date=2024-01-10"].startswith("waiting for input daily/")
    assert not d.satisfied and not d.expired and not d.breaches


def test_when_the_inputs_are_live_the_next_wave_is_one_run_per_job(registry):
    d = decide(registry, [want("trail/date=2024-01-10")], dict.fromkeys(src(*WEEK), "live"))
    assert d.batches == [Batch("daily", tuple(daily(*WEEK)), ("w1",))]


def test_nothing_is_launched_for_work_in_flight_nor_for_what_depends_on_it(registry):
    d = decide(registry, [want("trail/date=2024-01-10")], {}, in_flight=src(*WEEK))
    assert d.batches == []
    assert d.waiting[src(WEEK[0])[0]] == f"in flight: {src(WEEK[0])[0]}"
    partly = decide(registry, [want("trail/date=2024-01-10")],
                    dict.fromkeys(src(*WEEK[:3]), "live"), in_flight=src(*WEEK[3:]))
    assert partly.batches == [Batch("daily", tuple(daily(*WEEK[:3])), ("w1",))]


def test_a_wanted_ref_itself_in_flight_launches_nothing(registry):
    d = decide(registry, [want(*daily("2024-01-01"))], {}, in_flight=daily("2024-01-01"))
    assert d.batches == [] and d.waiting == {"daily/date=2024-01-01": "in flight"}


def test_partitions_held_by_another_build_are_delegated_not_launched(registry):
    d = decide(registry, [want(*daily("2024-01-01"))], {"src/date=2024-01-01": "building"},
               owners={"src/date=2024-01-01": "other-build"})
    assert d.batches == []
    assert d.waiting["src/date=2024-01-01"] == "being built by build other-build"


def test_non_contiguous_days_make_one_run_per_contiguous_range_and_wants_share_runs(registry):
    days = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-07", "2024-01-08"]
    live = dict.fromkeys(src(*days), "live")
    wants = [want(*daily(*days[:2]), wid="a"), want(*daily(*days[2:]), wid="b")]
    d = decide(registry, wants, live)
    assert d.batches == [Batch("daily", tuple(daily(*days[:3])), ("a", "b")),
                         Batch("daily", tuple(daily(*days[3:])), ("b",))]


def test_a_want_whose_refs_are_live_is_satisfied_and_one_past_its_ttl_expires(registry):
    wants = [want("src/date=2024-01-01", wid="done"),
             want("src/date=2024-01-02", wid="old", expires_at=NOW - 1),
             want("src/date=2024-01-03", wid="open", expires_at=NOW + 60)]
    d = decide(registry, wants, {"src/date=2024-01-01": "live"})
    assert d.satisfied == ["done"] and d.expired == ["old"]
    assert d.batches == [Batch("load_src", ("src/date=2024-01-03",), ("open",))]


def test_stale_refs_are_not_satisfied_and_get_rebuilt(registry):
    d = decide(registry, [want("src/date=2024-01-01")], {"src/date=2024-01-01": "stale"})
    assert not d.satisfied and d.batches == [Batch("load_src", ("src/date=2024-01-01",), ("w1",))]


def test_an_sla_breach_is_reported_per_missing_ref_with_sla_and_age_and_only_once(registry):
    w = want("src/date=2024-01-01", "src/date=2024-01-02", created_at=NOW - 100,
             sla_seconds=60.0)
    d = decide(registry, [w], {"src/date=2024-01-02": "live"})
    (b,) = d.breaches
    assert (b.want_id, b.ref, b.sla_seconds, b.age_seconds, b.state) == (
        "w1", "src/date=2024-01-01", 60.0, 100.0, "missing")
    again = decide(registry, [Want(**{**w.__dict__, "sla_breached_at": NOW - 5})], {})
    assert again.breaches == []
    on_time = decide(registry, [want("src/date=2024-01-01", created_at=NOW - 30,
                                     sla_seconds=60.0)], {})
    assert on_time.breaches == []


def test_the_sla_clock_starts_at_the_data_timestamp_when_given(registry):
    w = want("src/date=2024-01-01", created_at=NOW - 10, data_ts=NOW - 7200, sla_seconds=3600)
    (b,) = decide(registry, [w], {}).breaches
    assert b.age_seconds == 7200


def test_a_retriable_failure_waits_for_its_backoff_then_is_retried_with_attempt_and_class(
        registry):
    ref = "src/date=2024-01-01"
    retries = {ref: RetryState(ref, 2, "retriable", "timed out", NOW + 30)}
    d = decide(registry, [want(ref)], {ref: "failed"}, retries=retries)
    assert d.batches == [] and d.waiting[ref] == "retry 3 in 30s"
    later = decide(registry, [want(ref)], {ref: "failed"}, retries=retries, now=NOW + 31)
    assert later.batches == [Batch("load_src", (ref,), ("w1",), 3, "retriable")]


def test_a_permanent_failure_is_not_retried_and_its_dependents_wait(registry):
    ref = "src/date=2024-01-01"
    retries = {ref: RetryState(ref, 1, "permanent", "schema mismatch", None, gave_up=True)}
    d = decide(registry, [want("daily/date=2024-01-01")], {ref: "failed"}, retries=retries,
               now=NOW + 10_000)
    assert d.batches == []
    assert d.waiting[ref].startswith("not retried: permanent failure: schema mismatch")
    assert d.waiting["daily/date=2024-01-01"] == f"waiting for input {ref}"


def test_contiguous_ranges_follow_dates_and_static_values_and_keep_multi_dim_together(registry):
    assert contiguous_batches(registry, src("2024-01-01", "2024-01-03", "2024-01-02",
                                            "2024-01-05")) == [
        tuple(src("2024-01-01", "2024-01-02", "2024-01-03")), tuple(src("2024-01-05"))]
    split = ["part_a/date=2024-01-01", "part_b/date=2024-01-01", "part_a/date=2024-01-02"]
    assert contiguous_batches(registry, split) == [tuple(sorted(split))]
    cube = [f"cube/color={c}/size=s/date=2024-01-0{d}" for c in ("red", "blue") for d in (1, 5)]
    assert contiguous_batches(registry, cube) == [tuple(sorted(cube))]
    assert [len(b) for b in contiguous_batches(registry, src(*WEEK), max_refs=3)] == [3, 3, 1]
