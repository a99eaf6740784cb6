"""Wants, retry state, notifications and the event-log reads of propagation, on SQLite and
PostgreSQL (catalog migration 2); notifier delivery against a local HTTP receiver."""

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import pytest
import sqlalchemy as sa

from databuild_assets import settings
from databuild_assets.core import Catalog, DatabuildError
from databuild_assets.core import catalog_schema as s
from databuild_assets.core.wants import (
    RetryState,
    active_wants,
    add_notification,
    available_since,
    cancel_want,
    clear_retries,
    close_wants,
    create_want,
    last_event_id,
    list_wants,
    mark_sla_breached,
    notifications,
    readers_of,
    record_failures,
    retry_states,
    sla_miss_counts,
)
from sensors import CronWant, build_automation
from sensors.notify import MultiNotifier, WebhookNotifier, deliver_pending, notifier_from_settings
from tests.support.graphs import make_graph


def test_a_version_1_catalog_is_migrated_to_the_latest_version_and_keeps_its_data(catalog_url):
    cat = Catalog.open(catalog_url)
    cat.claim({"src/date=2024-01-01": "src"}, "b1")
    with cat.tx() as conn:  # back to what databuild before migration 2 left
        for t in reversed(s.V2_TABLES):
            t.drop(conn)
        conn.execute(sa.update(s.schema_info).values(version=1))
    cat.dispose()
    cat = Catalog.open(catalog_url)
    assert cat.schema_version() == s.LATEST >= 2
    assert "src/date=2024-01-01" in cat.partitions(["src/date=2024-01-01"])
    assert create_want(cat, ["src/date=2024-01-01"]).state == "active"
    cat.dispose()


def test_wants_are_created_listed_closed_and_cancelled(catalog_url):
    cat = Catalog.open(catalog_url)
    a = create_want(cat, ["b/d=1", "a/d=1", "a/d=1"], ttl="1h", sla="6h", comment="report",
                    now=1000.0)
    assert (a.refs, a.expires_at, a.sla_seconds, a.sla_deadline) == (
        ("a/d=1", "b/d=1"), 4600.0, 21600.0, 22600.0)
    again = create_want(cat, ["x/d=1"], want_id="cron-x-1", data_ts=50.0)
    assert create_want(cat, ["other"], want_id="cron-x-1") == again  # idempotent per id
    b = create_want(cat, ["c/d=1"])
    assert [w.want_id for w in active_wants(cat)] == [a.want_id, "cron-x-1", b.want_id]
    close_wants(cat, satisfied=[a.want_id], expired=["cron-x-1"], now=2000.0)
    mark_sla_breached(cat, [b.want_id], now=3000.0)
    assert cancel_want(cat, b.want_id) and not cancel_want(cat, a.want_id)
    states = {w.want_id: (w.state, w.satisfied_at) for w in list_wants(cat)}
    assert states == {a.want_id: ("satisfied", 2000.0), "cron-x-1": ("expired", None),
                      b.want_id: ("cancelled", None)}
    assert list_wants(cat, ["cancelled"])[0].sla_breached_at == 3000.0
    assert active_wants(cat) == []
    cat.dispose()


def test_retry_state_is_kept_per_ref_with_its_event_and_cleared(catalog_url):
    from databuild_assets.core import Event

    cat = Catalog.open(catalog_url)
    st = RetryState("src/date=2024-01-01", 2, "retriable", "timed out", 123.0, False, "run1")
    record_failures(cat, [st], [Event("auto", "retry", st.ref, "load_src",
                                      {"class": "retriable", "attempt": 2})])
    assert retry_states(cat, [st.ref, "other"]) == {st.ref: st}
    record_failures(cat, [RetryState(st.ref, 3, "permanent", "schema", None, True, "run2")])
    assert retry_states(cat)[st.ref].gave_up
    (ev,) = cat.events(ref=st.ref)
    assert ev.kind == "retry" and ev.detail == {"class": "retriable", "attempt": 2}
    clear_retries(cat, [st.ref])
    assert retry_states(cat) == {}
    cat.dispose()


def test_notifications_are_stored_once_per_key_and_counted_per_dataset_and_day(catalog_url):
    cat = Catalog.open(catalog_url)
    now = dt.datetime.now(dt.UTC).timestamp()
    assert add_notification(cat, "sla:w1:src/d=1", "sla_breach", {"ref": "src/d=1"},
                            want_id="w1", ref="src/d=1", dataset="src", now=now)
    assert not add_notification(cat, "sla:w1:src/d=1", "sla_breach", {"ref": "src/d=1"}, now=now)
    add_notification(cat, "sla:w1:src/d=2", "sla_breach", {"ref": "src/d=2"}, dataset="src",
                     now=now)
    add_notification(cat, "failed:src/d=3:r1", "failed", {"ref": "src/d=3"}, dataset="src")
    today = dt.datetime.fromtimestamp(now, dt.UTC).date().isoformat()
    assert sla_miss_counts(cat) == [("src", today, 2)]
    assert [n.kind for n in notifications(cat, undelivered=True)] == ["sla_breach"] * 2 + ["failed"]
    cat.dispose()


def test_propagation_reads_new_available_events_and_the_readers_of_a_ref(tmp_path, catalog_url):
    cat = Catalog.open(catalog_url)
    g = make_graph(tmp_path, cat)
    start = last_event_id(cat)
    g.build(["daily/date=2024-01-02", "part_a/date=2024-01-02"])
    refs = [r for _, r in available_since(cat, start)]
    assert refs == ["src/date=2024-01-02", "daily/date=2024-01-02", "part_a/date=2024-01-02",
                    "part_b/date=2024-01-02"]
    assert available_since(cat, last_event_id(cat)) == []
    readers = readers_of(cat, ["src/date=2024-01-02", "daily/date=2024-01-02", "fx/date=x"])
    assert readers == {"src/date=2024-01-02": {"daily/date=2024-01-02"},
                       "daily/date=2024-01-02": {"part_a/date=2024-01-02", "part_b/date=2024-01-02"}}
    cat.dispose()


class _Receiver(ThreadingHTTPServer):
    def __init__(self, status=204):
        self.got, outer = [], self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                outer.got.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *a):
                pass

        super().__init__(("127.0.0.1", 0), H)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_the_webhook_gets_each_notification_once_and_failed_deliveries_are_retried(tmp_path):
    cat = Catalog.open(f"sqlite:///{tmp_path / 'c.db'}")
    add_notification(cat, "k1", "sla_breach", {"ref": "src/d=1", "sla_seconds": 60})
    down = _Receiver(status=503)
    assert deliver_pending(cat, WebhookNotifier(f"http://127.0.0.1:{down.server_port}/h")) == 0
    (n,) = notifications(cat)
    assert n.delivery_attempts == 1 and n.delivered_at is None
    up = _Receiver()
    hook = WebhookNotifier(f"http://127.0.0.1:{up.server_port}/h?token=secret", timeout=2)
    assert deliver_pending(cat, hook) == 1 and deliver_pending(cat, hook) == 0
    assert up.got == [{"kind": "sla_breach", "ref": "src/d=1", "sla_seconds": 60}]
    assert "secret" not in repr(hook) and "secret" not in hook.target
    for r in (down, up):
        r.shutdown()
    cat.dispose()


def test_the_notifier_comes_from_settings_log_always_and_the_webhook_when_configured():
    assert type(notifier_from_settings({})).__name__ == "LogNotifier"
    multi = notifier_from_settings({"DATABUILD_WEBHOOK_URL": "https://hooks.example/x"})
    assert isinstance(multi, MultiNotifier) and len(multi.notifiers) == 2
    assert settings.webhook_url({}) is None


def test_a_cron_want_schedule_records_one_want_per_tick(tmp_path):
    cat = Catalog.open(f"sqlite:///{tmp_path / 'c.db'}")
    g = make_graph(tmp_path, cat)
    spec = CronWant("morning", "0 6 * * *", ["trail/date={date}"], sla="6h", ttl="1d")
    _sensors, (schedule,) = build_automation(g, cron_wants=[spec])
    assert schedule.job_name == "trail__job" and schedule.cron_schedule == "0 6 * * *"
    tick = dt.datetime(2024, 3, 2, 6, 0, tzinfo=dt.UTC)
    with dg.instance_for_test() as inst:
        for _ in range(2):  # the same tick twice: one want
            ctx = dg.build_schedule_context(instance=inst, scheduled_execution_time=tick)
            res = schedule.evaluate_tick(ctx)
            assert "want cron-morning-20240302T0600 recorded" in res.skip_message
    (w,) = active_wants(cat)
    assert (w.refs, w.source, w.data_ts, w.sla_seconds) == (
        ("trail/date=2024-03-01",), "cron:morning", tick.timestamp(), 21600.0)
    cat.dispose()


def test_a_cron_want_with_an_unknown_dataset_fails_when_definitions_load(tmp_path):
    g = make_graph(tmp_path, f"sqlite:///{tmp_path / 'c.db'}")
    with pytest.raises(DatabuildError, match="no job produces dataset 'nope'"):
        build_automation(g, cron_wants=[CronWant("x", "0 6 * * *", ["nope/date={date}"])])


def test_run_requests_carry_the_exact_refs_and_the_partition_range_like_the_launcher(tmp_path):
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_END_TAG as END,
    )
    from dagster._core.storage.tags import (
        ASSET_PARTITION_RANGE_START_TAG as START,
    )

    from databuild_assets.core import Graph, Job, JobConfig, PartitionPattern
    from databuild_assets.dagster.run_contract import run_refs
    from sensors.decisions import Batch
    from sensors.runs import run_request

    g = make_graph(tmp_path)
    refs = ("daily/date=2024-01-02", "daily/date=2024-01-03")
    req, dyn = run_request(g, Batch("daily", refs, ("w1",), 2, "retriable"), "wants")
    assert req.job_name == "daily__job" and dyn is None
    assert req.run_config == {"ops": {"daily": {"config": {"refs": list(refs)}}}}
    assert {k: req.tags[k] for k in (START, END, "databuild/wants", "databuild/attempt",
                                     "databuild/failure_class", "databuild/automation")} == {
        START: "2024-01-02", END: "2024-01-03", "databuild/wants": "w1",
        "databuild/attempt": "2", "databuild/failure_class": "retriable",
        "databuild/automation": "wants"}
    run = dg.DagsterRun(job_name=req.job_name, run_config=req.run_config, tags=req.tags)
    assert run_refs(g, run) == list(refs)
    ui_run = dg.DagsterRun(job_name="daily__job", tags={START: "2024-01-02", END: "2024-01-04"})
    assert run_refs(g, ui_run) == [f"daily/date=2024-01-0{d}" for d in (2, 3, 4)]

    region = PartitionPattern("sales/region={region}", dims={"region": ["us", "eu", "apac"]})

    class Sales(Job):
        label, outputs = "sales", [region]

        def configure(self, refs):
            return [JobConfig(outputs=refs)]

    static = Graph([Sales()], catalog=f"sqlite:///{tmp_path / 's.db'}")
    req, _ = run_request(static, Batch("sales", ("sales/region=apac", "sales/region=eu")), "x")
    assert (req.tags[START], req.tags[END]) == ("eu", "apac")  # definition order


def test_the_want_api_checks_refs_and_forgets_give_ups_of_what_the_want_needs(tmp_path):
    from databuild_assets.core.wants import want

    g = make_graph(tmp_path, f"sqlite:///{tmp_path / 'c.db'}")
    src = RetryState("src/date=2024-01-01", 1, "permanent", "schema", None, True, "r1")
    other = RetryState("src/date=2024-02-01", 1, "permanent", "schema", None, True, "r2")
    record_failures(g.catalog, [src, other])
    w = want(g, ["daily/date=2024-01-01"], ttl="1d", comment="again")
    assert w.refs == ("daily/date=2024-01-01",) and w.comment == "again"
    assert set(retry_states(g.catalog)) == {other.ref}
    with pytest.raises(DatabuildError, match="did you mean"):
        want(g, ["dialy/date=2024-01-01"])
    g.catalog.dispose()
