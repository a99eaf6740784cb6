"""Failure classes and retry backoff are pure functions of the error text and the clock."""

import random

import pytest

from databuild_assets.core.wants import RetryState
from sensors.failures import (
    PERMANENT,
    RETRIABLE,
    UNKNOWN,
    FailedRun,
    RetryPolicy,
    backoff_seconds,
    classify,
    decide_failures,
    next_retry_state,
)


@pytest.mark.parametrize("error", [
    "job 'load_src' raised TimeoutError: warehouse did not answer at graphs.py:40",
    "read timed out after 30s",
    "ConnectionResetError: [Errno 104] Connection reset by peer",
    "could not connect to server: Connection refused",
    "HTTP 503 Service Unavailable",
    "status=502 from upstream",
    "HTTPError: 429 Too Many Requests",
    "rate limit exceeded, retry later",
    "sqlite3.OperationalError: database is locked",
    "could not obtain lock on relation \"orders\"",
    "deadlock detected",
    "MATERIALIZE input(s) not live and fresh: src/date=2024-01-01 (missing)",
])
def test_timeouts_connection_errors_http_5xx_and_429_and_lock_contention_are_retriable(error):
    assert classify(error).kind == RETRIABLE


@pytest.mark.parametrize("error", [
    "job 'daily' raised ValueError: schema mismatch: column 'value' missing at x.py:3",
    "pydantic ValidationError: 1 validation error for Row",
    "invalid configuration: unknown target 'prodd'",
    "ConfigError: job 'x' configure() returned no config",
    "HTTP 401 Unauthorized",
    "status 403 forbidden",
    "FATAL: password authentication failed for user \"etl\"",
    "psycopg2.OperationalError: FATAL: password authentication failed",
    "PermissionError: [Errno 13] Permission denied: '/data'",
])
def test_schema_validation_configuration_and_authentication_errors_are_permanent(error):
    assert classify(error).kind == PERMANENT


def test_exception_objects_are_classified_by_type_and_unknown_errors_stay_unknown():
    assert classify(TimeoutError("slow")).kind == RETRIABLE
    assert classify(ConnectionRefusedError()).kind == RETRIABLE
    assert classify(PermissionError("nope")).kind == PERMANENT
    assert classify("RuntimeError: injected failure").kind == UNKNOWN
    assert classify(None).kind == UNKNOWN
    assert classify("boom", exc_type="TimeoutError").kind == RETRIABLE


def test_backoff_doubles_from_the_base_up_to_the_cap_with_jitter_below_the_nominal_delay():
    policy = RetryPolicy(base_seconds=10, cap_seconds=100, jitter=0.0)
    assert [backoff_seconds(a, policy) for a in range(6)] == [10, 20, 40, 80, 100, 100]
    jittered = RetryPolicy(base_seconds=10, cap_seconds=100, jitter=0.5)
    rng = random.Random(42)
    delays = [backoff_seconds(3, jittered, rng) for _ in range(200)]
    assert all(40 <= d <= 80 for d in delays) and len({round(d, 3) for d in delays}) > 100
    same = [backoff_seconds(3, jittered, random.Random(7)) for _ in range(2)]
    assert same[0] == same[1]  # seeded: reproducible


def test_retriable_failures_back_off_unknown_ones_give_up_after_a_few_permanent_at_once():
    policy = RetryPolicy(base_seconds=10, cap_seconds=1000, jitter=0.0, max_unknown_attempts=3)
    st, c = next_retry_state("a", "timed out", None, "r1", 100.0, policy)
    assert (st.attempts, st.failure_class, st.next_attempt_at, st.gave_up) == (1, RETRIABLE, 110, False)
    st, _ = next_retry_state("a", "timed out", st, "r2", 200.0, policy)
    assert (st.attempts, st.next_attempt_at, st.last_run_id) == (2, 220, "r2")
    st, c = next_retry_state("b", "schema mismatch", None, "r1", 100.0, policy)
    assert st.gave_up and st.next_attempt_at is None and c.kind == PERMANENT
    unknown = None
    for i in range(3):
        unknown, _ = next_retry_state("c", "RuntimeError: boom", unknown, f"r{i}", 100.0, policy)
    assert unknown.attempts == 3 and unknown.gave_up


def test_each_failed_run_counts_once_per_unbuilt_ref_with_the_partition_error_preferred():
    run = FailedRun("run1", "load_src", ("s/1", "s/2", "s/3"), "2 of 3 partition(s) failed")
    states = {"s/1": "live", "s/2": "failed", "s/3": "missing"}
    errors = {"s/2": "job 'load_src' raised TimeoutError: slow"}
    policy = RetryPolicy(jitter=0.0)
    out = decide_failures([run], states, errors, {}, 0.0, policy)
    assert [(st.ref, st.attempts, c.kind) for st, c, _ in out] == [
        ("s/2", 1, RETRIABLE), ("s/3", 1, UNKNOWN)]
    recorded = {st.ref: st for st, _, _ in out}
    assert decide_failures([run], states, errors, recorded, 5.0, policy) == []
    retry = FailedRun("run2", "load_src", ("s/2",), "failed")
    (st, _, _), = decide_failures([retry], states, errors, recorded, 5.0, policy)
    assert st.attempts == 2 and st.last_run_id == "run2"
    assert RetryState("x").attempts == 0
