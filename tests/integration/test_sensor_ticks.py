"""The wants and propagation sensors tick by tick, without a daemon: each tick is evaluated
as the daemon evaluates it (``build_sensor_context`` + ``evaluate_tick``) against a real
temporary DagsterInstance, and the run requests are run as Dagster runs in that instance
(``execute_in_process``), so the next tick sees them. Asserts what a user sees in the UI: the
runs requested (job, refs, tags) and the skip reasons.

Graph: the controllable test graph (tests/support/graphs.py) on a SQLite catalog; the
sensors come from ``build_definitions(..., automation=...)`` as in a code location."""

import random
import time

import dagster as dg
import pytest

from databuild_assets.core import Catalog, date_range
from databuild_assets.core.wants import create_want, get_want
from databuild_assets.dagster import build_definitions
from sensors import Notifier, RetryPolicy
from tests.support.graphs import land, make_graph

pytestmark = pytest.mark.integration
FLAKY, BROKEN = "fx/date=2024-04-01", "src/date=2024-05-01"
REPORT = "trail/date=2024-03-10"
WEEK = date_range("2024-03-04", "2024-03-10")
IDLE = "0 run(s); {} satisfied, 0 expired, 0 SLA breach(es), {} notification(s) sent, {} ref(s) waiting"


class Notes(Notifier):
    def __init__(self):
        self.sent: list[tuple[str, dict]] = []

    def send(self, kind: str, payload: dict) -> None:
        self.sent.append((kind, payload))


class Site:
    """A code location's sensors over one catalog and one Dagster instance, ticked by hand;
    ``later(s)`` moves the sensors' clock on (retry backoff, SLAs)."""

    def __init__(self, root, instance):
        self.root, self.instance, self.shift, self.notes = root, instance, 0.0, Notes()
        url = f"sqlite:///{root / 'catalog.db'}"
        self.catalog = Catalog.open(url)
        self.graph = make_graph(root, self.catalog, flaky={FLAKY: 1}, broken=[BROKEN])
        self.defs = build_definitions(self.graph, catalog_url=url, data_root=str(root / "data"),
                                      automation={"notifier": self.notes, "window_days": 10,
                                                  "clock": lambda: time.time() + self.shift,
                                                  "rng": random.Random(0),
                                                  "retry_policy": RetryPolicy(
                                                      base_seconds=60, cap_seconds=600, jitter=0)})
        self.cursors: dict[str, str | None] = {}

    def later(self, seconds: float) -> None:
        self.shift += seconds

    def tick(self, sensor: str):
        """One tick; returns (requests as (job, refs, tags), skip message)."""
        ctx = dg.build_sensor_context(instance=self.instance, cursor=self.cursors.get(sensor),
                                      definitions=self.defs)
        data = self.defs.get_sensor_def(sensor).evaluate_tick(ctx)
        self.cursors[sensor] = data.cursor
        self.requests = data.run_requests
        return ([(r.job_name, r.run_config["ops"][r.job_name[:-5]]["config"]["refs"], r.tags)
                 for r in data.run_requests], data.skip_message)

    def run_requested(self) -> list[bool]:
        """Run the last tick's requests as Dagster runs (as the daemon would launch them)."""
        return [self.defs.resolve_job_def(r.job_name).execute_in_process(
            run_config=r.run_config, tags=r.tags, instance=self.instance,
            raise_on_error=False).success for r in self.requests]


@pytest.fixture
def site(tmp_path):
    with dg.instance_for_test() as instance:
        s = Site(tmp_path, instance)
        yield s
        s.catalog.dispose()


def jobs_and_refs(requests) -> list[tuple[str, list[str]]]:
    return sorted((job, sorted(refs)) for job, refs, _tags in requests)


def test_the_wants_sensor_skips_with_a_summary_when_nothing_is_wanted(site):
    assert site.tick("databuild_wants") == ([], IDLE.format(0, 0, 0))


def test_a_want_is_built_in_waves_one_run_per_job_and_range_then_reported_satisfied(site):
    want = create_want(site.catalog, [REPORT], ttl="1h", source="test")
    waves = []
    for _ in range(3):
        requests, skip = site.tick("databuild_wants")
        assert skip is None
        waves.append(jobs_and_refs(requests))
        for _job, _refs, tags in requests:
            assert tags["databuild/automation"] == "wants" and tags["databuild/attempt"] == "1"
            assert tags["databuild/wants"] == want.want_id
        assert site.run_requested() == [True] * len(requests)
    assert waves == [[("load_src__job", [f"src/date={d}" for d in WEEK])],
                     [("daily__job", [f"daily/date={d}" for d in WEEK])],
                     [("trail__job", [REPORT])]]
    assert site.tick("databuild_wants") == ([], IDLE.format(1, 0, 0))
    assert get_want(site.catalog, want.want_id).state == "satisfied"
    assert site.tick("databuild_wants") == ([], IDLE.format(0, 0, 0))  # closed: nothing more


def test_a_requested_run_still_queued_is_not_requested_again(site):
    create_want(site.catalog, ["src/date=2024-03-04"], ttl="1h", source="test")
    ((job, refs, tags),), _ = site.tick("databuild_wants")
    (req,) = site.requests
    site.instance.create_run_for_job(site.defs.resolve_job_def(job), run_config=req.run_config,
                                     tags=tags)  # queued, not started: in flight
    assert site.tick("databuild_wants") == ([], IDLE.format(0, 0, 1))


def test_a_transient_failure_is_retried_after_its_backoff_with_the_attempt_and_class_tags(site):
    want = create_want(site.catalog, [FLAKY], ttl="1h", source="test")
    assert jobs_and_refs(site.tick("databuild_wants")[0]) == [("load_fx__job", [FLAKY])]
    assert site.run_requested() == [False]  # TimeoutError on the first attempt
    assert site.tick("databuild_wants") == ([], IDLE.format(0, 0, 1))  # backing off (60 s)
    (failed,) = site.instance.get_runs()
    assert failed.tags["databuild/failure_class"] == "retriable"
    assert failed.tags["databuild/retry"] != "no"
    site.later(61)
    ((job, refs, tags),), skip = site.tick("databuild_wants")
    assert (job, refs, skip) == ("load_fx__job", [FLAKY], None)
    assert tags["databuild/attempt"] == "2" and tags["databuild/failure_class"] == "retriable"
    assert site.run_requested() == [True]
    assert site.tick("databuild_wants") == ([], IDLE.format(1, 0, 0))
    assert get_want(site.catalog, want.want_id).state == "satisfied"
    assert site.notes.sent == []


def test_a_permanent_failure_is_not_retried_and_notified_once(site):
    create_want(site.catalog, ["daily/date=2024-05-01"], ttl="1h", source="test")
    assert jobs_and_refs(site.tick("databuild_wants")[0]) == [("load_src__job", [BROKEN])]
    assert site.run_requested() == [False]  # schema validation failed: permanent
    requests, skip = site.tick("databuild_wants")
    assert requests == [] and skip.startswith("0 run(s); 0 satisfied") and "1 notification(s) sent" in skip
    site.later(3600 - 60)  # long after any backoff, before the TTL
    assert site.tick("databuild_wants")[0] == []
    ((kind, note),) = site.notes.sent
    assert kind == "failed" and note["ref"] == BROKEN and note["failure_class"] == "permanent"
    (run,) = site.instance.get_runs()
    assert run.tags["databuild/failure_class"] == "permanent" and run.tags["databuild/retry"] == "no"


def test_an_sla_breach_is_notified_once_with_the_ref_the_sla_and_the_age(site):
    want = create_want(site.catalog, [FLAKY], ttl="1h", sla="30s", source="test")
    site.tick("databuild_wants")  # its run is requested, never run: the want stays open
    for _ in range(3):
        site.later(20)  # 20 s, 40 s, 60 s old
        site.tick("databuild_wants")
    breaches = [p for k, p in site.notes.sent if k == "sla_breach"]
    assert len(breaches) == 1 and breaches[0]["want_id"] == want.want_id
    assert breaches[0]["ref"] == FLAKY and breaches[0]["sla_seconds"] == 30.0
    assert breaches[0]["age_seconds"] >= 30.0


def test_the_propagation_sensor_starts_at_the_end_of_the_log_without_replaying_history(site):
    site.graph.build([REPORT])  # a week built before the sensor starts; split never ran
    assert site.tick("databuild_propagate") == ([], "started watching the build event log")
    assert site.tick("databuild_propagate") == ([], "no partition became live")


def test_a_new_day_propagates_to_exactly_its_dependents_one_run_per_job_per_wave(site):
    site.graph.build([REPORT] + [f"cube/color={c}/size={s}/date={d}" for d in WEEK
                                 for c in ("red", "blue") for s in "sml"])
    site.tick("databuild_propagate")
    day = "2024-03-11"
    land(site.root, day, [10, 20])
    site.graph.build([f"src/date={day}"])  # lands by another path than Dagster
    waves = []
    for _ in range(3):
        requests, skip = site.tick("databuild_propagate")
        assert skip is None
        assert all(t["databuild/automation"] == "propagate" for _j, _r, t in requests)
        waves.append(jobs_and_refs(requests))
        assert site.run_requested() == [True] * len(requests)
    cube = sorted(f"cube/color={c}/size={s}/date={day}" for c in ("red", "blue") for s in "sml")
    assert waves == [[("daily__job", [f"daily/date={day}"])],
                     [("split__job", [f"part_a/date={day}", f"part_b/date={day}"]),
                      ("trail__job", [f"trail/date={day}"])],
                     [("cube__job", cube)]]
    assert site.tick("databuild_propagate") == ([], "no dependent is ready")  # cube: no readers
    assert site.tick("databuild_propagate") == ([], "no partition became live")


def test_a_dependent_with_an_input_not_live_is_not_launched(site):
    site.tick("databuild_propagate")
    site.graph.build(["src/date=2024-03-10"])  # daily/date=2024-03-10 reads src and fx (QUERY)
    ((job, refs, _t),), _ = site.tick("databuild_propagate")
    assert (job, refs) == ("daily__job", ["daily/date=2024-03-10"])
    assert site.run_requested() == [True]
    # trail/date=2024-03-10 reads seven dailies, six of them missing; split's day is ready
    assert jobs_and_refs(site.tick("databuild_propagate")[0]) == [
        ("split__job", ["part_a/date=2024-03-10", "part_b/date=2024-03-10"])]
