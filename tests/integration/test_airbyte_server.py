"""Server mode: dagster-airbyte's real client against a local HTTP server speaking the Airbyte
API subset it calls (tests/support/fake_airbyte.py). Each fault ends as its own outcome."""

from __future__ import annotations

import logging
import signal
import threading
import time

import pytest

from resources.airbyte import AirbyteConnection, build_workspace, clear, sync
from tests.support.fake_airbyte import FakeAirbyte, Fault, closed_port

pytestmark = pytest.mark.integration
LOG = logging.getLogger("databuild.test.airbyte")


@pytest.fixture
def fake(monkeypatch):
    with FakeAirbyte() as f:
        monkeypatch.setenv("AB_CLIENT_ID", f.client_id)
        monkeypatch.setenv("AB_CLIENT_SECRET", f.client_secret)
        yield f


def server_conn(fake: FakeAirbyte, connection_id: str, **extra) -> AirbyteConnection:
    return AirbyteConnection.from_dict("orders", {
        "rest_api_base_url": fake.rest_url, "configuration_api_base_url": fake.config_url,
        "workspace_id": fake.workspace_id, "connection_id": connection_id,
        "client_id_env": "AB_CLIENT_ID", "client_secret_env": "AB_CLIENT_SECRET",
        "poll_interval": 0.05, "request_retry_delay": 0.05, **extra})


def test_a_successful_sync_reports_the_airbyte_job_id_records_and_streams(fake):
    conn = server_conn(fake, fake.add_connection("c-ok", Fault(rows=42)))
    out = sync(conn, None, timeout=10, log=LOG)
    assert out.status == "succeeded" and out.ok
    assert out.job_id in fake.jobs and out.records == 42
    assert out.streams == ("orders", "customers")
    assert (out.attempts, out.retries) == (1, 0)
    assert fake.requests_to("POST", "/jobs")[0].body == {"connectionId": "c-ok", "jobType": "sync"}
    assert fake.cancelled == []


def test_transient_5xx_answers_are_retried_with_backoff_and_the_sync_succeeds(fake):
    conn = server_conn(fake, fake.add_connection("c-flaky", Fault(transient_5xx=2)))
    out = sync(conn, None, timeout=10, log=LOG)
    assert out.status == "succeeded", out.message
    assert (out.attempts, out.retries) == (3, 2)
    starts = fake.requests_to("POST", "/jobs")
    assert len(starts) == 3
    gaps = [b.at - a.at for a, b in zip(starts, starts[1:], strict=False)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # request_retry_delay, then doubled


def test_transient_5xx_while_polling_are_retried_too(fake):
    conn = server_conn(fake, fake.add_connection("c-flaky-poll", Fault(
        transient_5xx=2, transient_on=("poll",))))
    out = sync(conn, None, timeout=10, log=LOG)
    assert out.status == "succeeded" and out.retries == 2 and out.attempts == 1


def test_5xx_that_outlast_the_retries_fail_naming_the_status_and_the_call(fake):
    conn = server_conn(fake, fake.add_connection("c-down", Fault(transient_5xx=99)),
                       request_max_retries=2)
    out = sync(conn, None, timeout=10, log=LOG)
    assert out.status == "failed" and out.job_id is None
    assert "POST /api/public/v1/jobs: HTTP 503 (after 2 retries)" in out.message
    assert len(fake.requests_to("POST", "/jobs")) == 3


def test_an_api_outage_while_polling_does_not_cancel_a_healthy_sync(fake):
    conn = server_conn(fake, fake.add_connection("c-blip", Fault(
        transient_5xx=6, transient_on=("poll",))), request_max_retries=1)
    out = sync(conn, None, timeout=30, log=LOG)
    assert out.status == "succeeded", out.message
    assert fake.cancelled == [] and len(fake.jobs) == 1


def test_an_api_outage_that_outlasts_the_deadline_times_out_and_cancels_the_job(fake):
    conn = server_conn(fake, fake.add_connection("c-outage", Fault(
        "hang", transient_5xx=10 ** 6, transient_on=("poll",))), request_max_retries=1)
    out = sync(conn, None, timeout=1, log=LOG)
    assert out.status == "timed_out" and out.error == "timeout" and out.job_id is not None
    assert f"Airbyte job {out.job_id} cancelled" in out.message
    assert fake.cancelled == [out.job_id]


@pytest.mark.parametrize("lost", ["5xx", "slow"])
def test_a_retried_start_that_gets_409_adopts_the_job_its_first_try_created(fake, lost):
    conn = server_conn(fake, fake.add_connection("c-lost", Fault(lost_start=lost, slow_s=2.5)),
                       request_timeout=1)
    out = sync(conn, None, timeout=30, log=LOG)
    assert out.status == "succeeded", out.message
    assert list(fake.jobs) == [out.job_id] and out.records == 42
    assert out.attempts == 2 and fake.cancelled == []
    assert [r.path for r in fake.requests_to("GET", "/jobs/" + str(out.job_id))]


def test_an_answer_that_is_not_json_is_a_retriable_protocol_error_with_a_clear_message(fake):
    from sensors.failures import classify

    conn = server_conn(fake, fake.add_connection("c-html", Fault(html_on=("start",))),
                       request_max_retries=1)
    out = sync(conn, None, timeout=10, log=LOG)
    assert out.status == "failed" and out.error == "protocol" and out.job_id is None
    assert "not JSON (text/html" in out.message and "rest_api_base_url" in out.message
    assert "JSONDecodeError" not in out.message
    assert classify(out.message).kind == "retriable"


def test_a_short_run_of_non_json_answers_while_polling_is_retried(fake):
    conn = server_conn(fake, fake.add_connection("c-html-poll", Fault(
        html_on=("poll",), html_count=2)))
    out = sync(conn, None, timeout=10, log=LOG)
    assert out.status == "succeeded" and out.retries == 2


def test_a_failed_airbyte_job_fails_with_its_job_id(fake):
    conn = server_conn(fake, fake.add_connection("c-bad", Fault("failed")))
    out = sync(conn, None, timeout=10, log=LOG)
    assert out.status == "failed"
    assert out.job_id is not None and f"Airbyte job {out.job_id} failed" in out.message
    assert fake.jobs[out.job_id]["status"] == "failed"


def test_a_job_cancelled_in_airbyte_ends_as_cancelled(fake):
    conn = server_conn(fake, fake.add_connection("c-x", Fault("cancelled")))
    out = sync(conn, None, timeout=10, log=LOG)
    assert out.status == "cancelled" and f"Airbyte job {out.job_id} was cancelled" in out.message
    assert fake.cancelled == []  # cancelled by someone else, not by us


def test_a_job_that_outlives_the_timeout_is_cancelled_and_reported_as_timed_out(fake):
    conn = server_conn(fake, fake.add_connection("c-slow", Fault("hang")))
    started = time.monotonic()
    out = sync(conn, None, timeout=0.6, log=LOG)
    assert time.monotonic() - started < 5
    assert out.status == "timed_out"
    assert "timed out after 0.6 s" in out.message
    assert fake.cancelled == [out.job_id]
    assert fake.requests_to("DELETE", f"/jobs/{out.job_id}")
    assert fake.jobs[out.job_id]["status"] == "cancelled"


def test_a_409_from_airbyte_is_refused_as_already_running_without_retrying(fake):
    conn = server_conn(fake, fake.add_connection("c-busy", Fault("conflict")))
    out = sync(conn, None, timeout=10, log=LOG)
    assert out.status == "already_running" and out.error == "lock_contention"
    assert "already has a job running" in out.message and "HTTP 409" in out.message
    from sensors.failures import classify

    assert classify(out.message).kind == "retriable"
    assert len(fake.requests_to("POST", "/jobs")) == 1 and out.retries == 0
    assert fake.cancelled == []


def test_a_job_already_running_in_airbyte_is_reported_without_starting_another(fake):
    conn = server_conn(fake, fake.add_connection("c-elsewhere", Fault("running_elsewhere")))
    out = sync(conn, None, timeout=10, log=LOG)
    assert out.status == "already_running" and out.job_id == 900
    assert "Airbyte job 900" in out.message
    assert fake.requests_to("POST", "/jobs") == [] and fake.cancelled == []


def test_an_unreachable_host_fails_naming_the_host_and_what_to_check():
    port = closed_port()
    conn = AirbyteConnection.from_dict("orders", {
        "host": "127.0.0.1", "port": port, "workspace_id": "ws", "connection_id": "c",
        "request_retry_delay": 0.05, "request_max_retries": 2})
    out = sync(conn, None, timeout=10, log=LOG)
    assert out.status == "failed" and out.job_id is None
    assert f"cannot reach the Airbyte server at 127.0.0.1:{port}" in out.message
    assert "connection refused" in out.message and "host/port" in out.message
    assert out.retries == 2


def test_setting_the_cancel_event_cancels_the_running_airbyte_job(fake):
    conn = server_conn(fake, fake.add_connection("c-long", Fault("hang")))
    stop = threading.Event()
    threading.Timer(0.4, stop.set).start()
    out = sync(conn, None, timeout=30, log=LOG, cancel_event=stop)
    assert out.status == "cancelled" and "run termination" in out.message
    assert fake.cancelled == [out.job_id]


class Terminated(BaseException):
    """What a run-termination signal raises in the op's thread (like Dagster's interrupt)."""


def test_run_termination_cancels_the_airbyte_job_and_propagates(fake):
    conn = server_conn(fake, fake.add_connection("c-term", Fault("hang")))

    def on_alarm(signum, frame):
        raise Terminated()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 0.4)
    try:
        with pytest.raises(Terminated):
            sync(conn, None, timeout=30, log=LOG)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert len(fake.cancelled) == 1
    assert fake.jobs[fake.cancelled[0]]["status"] == "cancelled"


def test_wrong_credentials_fail_naming_the_env_vars_to_check(fake, monkeypatch):
    monkeypatch.setenv("AB_CLIENT_SECRET", "wrong-secret-value")
    conn = server_conn(fake, fake.add_connection("c-auth"))
    out = sync(conn, None, timeout=10, log=LOG)
    assert out.status == "failed" and "HTTP 401" in out.message
    assert "AB_CLIENT_ID/AB_CLIENT_SECRET" in out.message
    assert "wrong-secret-value" not in out.message
    assert len(fake.requests_to("POST", "/applications/token")) == 1  # a 401 is not retried


def test_a_missing_secret_fails_naming_the_variable_without_calling_airbyte(fake, monkeypatch):
    monkeypatch.delenv("AB_CLIENT_SECRET")
    out = sync(server_conn(fake, fake.add_connection("c-nosecret")), None, timeout=10, log=LOG)
    assert out.status == "failed" and "'AB_CLIENT_SECRET', which is not set" in out.message
    assert fake.seen == []


def test_an_unknown_connection_id_fails_naming_the_connection_and_workspace(fake):
    out = sync(server_conn(fake, "c-nowhere"), None, timeout=10, log=LOG)
    assert out.status == "failed" and "does not know" in out.message
    assert "c-nowhere" in out.message and fake.workspace_id in out.message


def test_clearing_a_whole_connection_starts_a_clear_job_and_waits_for_it(fake):
    conn = server_conn(fake, fake.add_connection("c-clear"))
    out = clear(conn, None, log=LOG)
    assert out.status == "succeeded" and out.operation == "clear"
    assert fake.requests_to("POST", "/jobs")[0].body == {"connectionId": "c-clear",
                                                         "jobType": "clear"}
    assert fake.jobs[out.job_id]["status"] == "succeeded"


def test_clearing_chosen_streams_uses_the_configuration_api_with_their_namespaces(fake):
    conn = server_conn(fake, fake.add_connection("c-streams"))
    out = clear(conn, None, streams=["customers"], log=LOG)
    assert out.status == "succeeded" and out.streams == ("customers",)
    assert fake.cleared == [{"connectionId": "c-streams", "streams": [
        {"streamName": "customers", "streamNamespace": "public"}]}]


def test_clearing_an_unknown_stream_fails_listing_the_known_streams(fake):
    conn = server_conn(fake, fake.add_connection("c-s"))
    out = clear(conn, None, streams=["refunds"], log=LOG)
    assert out.status == "failed" and "refunds" in out.message
    assert "customers, orders" in out.message and fake.cleared == []


def test_a_clear_refused_with_409_is_reported_as_already_running(fake):
    conn = server_conn(fake, fake.add_connection("c-clear-busy", Fault("conflict")))
    assert clear(conn, None, log=LOG).status == "already_running"


@pytest.mark.parametrize("fault", ["success", "failed", "cancelled", "hang", "conflict",
                                   "running_elsewhere", "echo", "flaky", "unreachable", "badauth"])
def test_secrets_never_appear_in_outcomes_or_log_records(fake, fault, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    if fault == "unreachable":
        conn = AirbyteConnection.from_dict("orders", {
            "host": "127.0.0.1", "port": closed_port(), "workspace_id": "ws",
            "connection_id": "c", "client_id_env": "AB_CLIENT_ID",
            "client_secret_env": "AB_CLIENT_SECRET", "request_retry_delay": 0.01})
    else:
        kind = {"flaky": "success", "badauth": "success"}.get(fault, fault)
        conn = server_conn(fake, fake.add_connection(
            f"c-{fault}", Fault(kind, transient_5xx=2 if fault == "flaky" else 0)))
    secrets = [fake.client_secret]
    if fault == "badauth":
        monkeypatch.setenv("AB_CLIENT_SECRET", "bad-secret-0123456789")
        secrets.append("bad-secret-0123456789")
    out = sync(conn, None, timeout=0.8, log=LOG)
    cleared = clear(conn, None, streams=["orders"], log=LOG, timeout=0.8)
    secrets += fake.tokens  # the OAuth access tokens the fake handed out
    text = "\n".join([repr(out), repr(out.to_metadata()), repr(cleared), repr(conn),
                      *(r.getMessage() for r in caplog.records)])
    assert caplog.records, "expected log lines to check"
    for s in secrets:
        assert s not in text
    if fault == "echo":  # the fake echoed the secret and the token; both were redacted
        assert "***" in out.message


def test_the_dagster_airbyte_workspace_reads_the_fake_servers_connections(fake):
    fake.add_connection("c-lineage", name="orders sync")
    conn = server_conn(fake, "c-lineage")
    workspace = build_workspace(conn)
    data = workspace.fetch_airbyte_workspace_data()
    assert set(data.connections_by_id) == {"c-lineage"}
    assert set(data.connections_by_id["c-lineage"].streams) == {"orders", "customers"}
    specs = workspace.load_asset_specs()
    assert {spec.key.path[-1] for spec in specs} >= {"orders", "customers"}


def test_a_cloud_connection_builds_an_airbyte_cloud_workspace(monkeypatch):
    monkeypatch.setenv("AB_CLIENT_ID", "cloud-id")
    monkeypatch.setenv("AB_CLIENT_SECRET", "cloud-secret")
    conn = AirbyteConnection.from_dict("orders", {
        "mode": "cloud", "workspace_id": "ws", "connection_id": "c",
        "client_id_env": "AB_CLIENT_ID", "client_secret_env": "AB_CLIENT_SECRET"})
    from dagster_airbyte import AirbyteCloudWorkspace

    workspace = build_workspace(conn)
    assert isinstance(workspace, AirbyteCloudWorkspace)
    assert workspace.get_client().rest_api_base_url == conn.rest_api_base_url
