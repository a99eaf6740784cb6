"""Downstream propagation, cron wants and notification redaction, without Dagster."""

import datetime as dt

import pytest

from databuild_assets.core import DatabuildError, Status, date_range
from databuild_assets.core.wants import format_duration, parse_duration
from sensors.cron import CronWant, cron_refs, cron_want_id
from sensors.decisions import Batch
from sensors.notify import redact
from sensors.propagation import candidates, decide_propagation, next_events, settle
from tests.support.graphs import make_graph

LINEAGE = {"load_src": set(), "load_fx": set(), "daily": {"src", "fx"}, "split": {"daily"},
           "cube": {"part_a"}, "trail": {"daily"}}
DAY = "2024-02-10"


@pytest.fixture
def registry(tmp_path):
    return make_graph(tmp_path).registry


def propagate(registry, changed, live, in_flight=(), states=None):
    def status(refs):
        return {r: Status(r, (states or {}).get(r, "live" if r in live else "missing"))
                for r in refs}

    cands = candidates(registry, LINEAGE, changed, window_days=31)
    return decide_propagation(registry, changed, cands, status, set(in_flight))


def test_a_new_day_of_source_data_triggers_exactly_its_daily_partition(registry):
    batches, _ = propagate(registry, [f"src/date={DAY}"], {f"src/date={DAY}"})
    assert batches == [Batch("daily", (f"daily/date={DAY}",))]


def test_dependents_run_only_when_all_their_inputs_are_live_one_run_per_job(registry):
    week = date_range("2024-02-04", DAY)
    live = {f"daily/date={d}" for d in week}
    batches, skipped = propagate(registry, [f"daily/date={DAY}"], live)
    assert batches == [Batch("split", (f"part_a/date={DAY}", f"part_b/date={DAY}")),
                       Batch("trail", (f"trail/date={DAY}",))]
    assert skipped["trail/date=2024-02-11"] == "input daily/date=2024-02-11 is missing"
    fresh = {f"part_a/date={DAY}", f"part_b/date={DAY}"}
    cube, _ = propagate(registry, sorted(fresh), fresh)
    (b,) = cube
    assert b.job == "cube" and len(b.refs) == 6 and all(DAY in r for r in b.refs)


def test_live_building_and_in_flight_dependents_are_not_launched(registry):
    changed = [f"src/date={DAY}"]
    assert propagate(registry, changed, {changed[0], f"daily/date={DAY}"})[0] == []
    batches, skipped = propagate(registry, changed, {changed[0]}, in_flight=[f"daily/date={DAY}"])
    assert batches == [] and skipped == {f"daily/date={DAY}": "in flight"}
    batches, skipped = propagate(registry, changed, {changed[0]},
                                 states={changed[0]: "live", f"daily/date={DAY}": "building"})
    assert batches == [] and skipped[f"daily/date={DAY}"] == "already building"


def test_stale_and_failed_dependents_are_rebuilt_when_an_input_changes(registry):
    changed = [f"src/date={DAY}"]
    for state in ("stale", "failed"):
        batches, _ = propagate(registry, changed, set(),
                               states={changed[0]: "live", f"daily/date={DAY}": state})
        assert batches == [Batch("daily", (f"daily/date={DAY}",))]


def test_a_landed_range_of_days_is_one_run_per_contiguous_range(registry):
    days = ["2024-02-01", "2024-02-02", "2024-02-03", "2024-02-09"]
    changed = [f"src/date={d}" for d in days]
    batches, _ = propagate(registry, changed, set(changed))
    assert [b.refs for b in batches] == [tuple(f"daily/date={d}" for d in days[:3]),
                                         (f"daily/date={days[3]}",)]


def test_event_cursor_skips_seen_ids_and_remembers_recent_ones():
    refs, high, keep = next_events([(5, "a"), (6, "b"), (8, "c")], {5})
    assert refs == ["b", "c"] and high == 8 and keep == {5, 6, 8}
    refs, high, _ = next_events([(7, "d"), (8, "c")], keep)  # 7 committed late
    assert refs == ["d"] and high == 8


def test_partitions_of_a_run_still_going_wait_so_its_whole_range_propagates_at_once():
    now, pending = settle(["s/1", "s/2"], ["s/0"], in_flight={"s/2", "s/3"})
    assert (now, pending) == (["s/0", "s/1"], ["s/2"])
    assert settle([], pending, in_flight=set()) == (["s/2"], [])


def test_cron_wants_compute_refs_from_the_tick_time():
    spec = CronWant("report", "0 6 * * *", ["trail/date={date}", "daily/date={tick_date}"])
    tick = dt.datetime(2024, 3, 1, 6, 0, tzinfo=dt.UTC)
    assert cron_refs(spec, tick) == ["daily/date=2024-03-01", "trail/date=2024-02-29"]
    tokyo = CronWant("r", "0 6 * * *", ["trail/date={date}"], offset_days=0,
                     timezone="Asia/Tokyo")
    assert cron_refs(tokyo, dt.datetime(2024, 3, 1, 22, 0, tzinfo=dt.UTC)) == [
        "trail/date=2024-03-02"]
    assert cron_want_id(spec, tick) == "cron-report-20240301T0600"


def test_durations_parse_and_print():
    assert parse_duration("30d") == 30 * 86400 and parse_duration("1d12h") == 36 * 3600
    assert parse_duration("90") == 90 and parse_duration(None) is None
    assert format_duration(6 * 3600) == "6h" and format_duration(90) == "1m30s"
    with pytest.raises(DatabuildError, match="bad duration"):
        parse_duration("6 hours")


def test_notifications_never_carry_credentials():
    text = ("could not connect to postgresql://etl:s3cret@db:5432/x; password=hunter2 "
            "Authorization: Bearer abcdefghijkl token='xyz'")
    out = redact(text)
    for secret in ("s3cret", "hunter2", "abcdefghijkl", "xyz"):
        assert secret not in out
    assert "postgresql://etl:***@db:5432/x" in out
