"""Failure classification and retry backoff: pure functions of the error and the clock.

retriable  timeouts, connection errors, HTTP 5xx and 429, lock contention: retried with
           exponential backoff, jitter and a cap until the want's TTL passes.
permanent  schema or validation errors, bad configuration, authentication: not retried;
           notified once.
unknown    anything else: retried like a retriable failure, but at most
           ``RetryPolicy.max_unknown_attempts`` times, then treated as permanent.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from databuild_assets.core.wants import RetryState

RETRIABLE, PERMANENT, UNKNOWN = "retriable", "permanent", "unknown"

_RETRIABLE_TYPES = {
    "TimeoutError", "TimeoutExpired", "ConnectionError", "ConnectionResetError",
    "ConnectionRefusedError", "ConnectionAbortedError", "BrokenPipeError", "ReadTimeout",
    "ConnectTimeout", "ReadTimeoutError", "ConnectTimeoutError", "OperationalError",
    "ServiceUnavailable", "TooManyRequests", "DeadlockDetected", "LockNotAvailable",
    "SerializationFailure", "DagsterConcurrencyLimitError",
}
_PERMANENT_TYPES = {
    "ValidationError", "SchemaError", "ConfigError", "DefinitionError", "RefError",
    "UnknownDatasetError", "JobOutputError", "CycleError", "PermissionError",
    "AuthenticationError", "AuthError", "Unauthorized", "Forbidden", "InvalidCredentials",
    "SyntaxError", "DagsterInvalidConfigError", "ParserError", "ProgrammingError",
}
_PERMANENT_TEXT = re.compile("|".join([
    r"\bschema\b", r"validat", r"\bconstraint\b", r"invalid (?:config|configuration|argument)",
    r"bad config", r"misconfigur", r"\bconfig(?:uration)? error",
    r"missing (?:required )?(?:column|field|key)",
    r"unknown (?:column|dataset|field)", r"no such (?:column|table)", r"type mismatch",
    r"(?:http|status)[ :=]*40[13]\b", r"\b40[13] (?:unauthorized|forbidden)", r"unauthori[sz]ed",
    r"forbidden", r"authenticat", r"permission denied", r"access denied",
    r"invalid (?:credentials|token|api key|password)", r"password authentication failed",
]), re.I)
_RETRIABLE_TEXT = re.compile("|".join([
    r"timed? ?out", r"deadline exceeded", r"connection (?:refused|reset|aborted|"
    r"closed|error|lost)", r"could not connect", r"broken pipe", r"network is unreachable",
    r"temporar(?:y|ily) (?:failure|unavailable)", r"name resolution", r"try again",
    r"(?:http|status)[ :=]*(?:5\d\d|429)\b", r"\b(?:5\d\d|429) (?:server error|internal|bad gateway"
    r"|service unavailable|gateway timeout|too many requests)", r"too many requests",
    r"rate.?limit", r"throttl", r"service unavailable", r"bad gateway", r"internal server error",
    r"\block(?:ed)?\b", r"lock (?:timeout|contention|wait)", r"deadlock", r"database is locked",
    r"could not obtain lock", r"could not serialize", r"serialization failure",
    r"\bHTTP 409\b", r"already (?:has a job )?running", r"protocol error",  # Airbyte (12B)
    r"resource temporarily unavailable", r"concurrency (?:limit|slot)",
    r"MATERIALIZE input\(s\) not live",  # an input vanished meanwhile: retry after it is rebuilt
]), re.I)
_TYPE_IN_TEXT = re.compile(r"\b(?:raised )?([A-Z][A-Za-z0-9_]*(?:Error|Exception|Timeout|"
                           r"Expired|Unavailable|Requests|Detected|Failure|Forbidden|"
                           r"Unauthorized))\b")


@dataclass(frozen=True)
class Classification:
    kind: str  # retriable|permanent|unknown
    reason: str  # what matched, for humans

    @property
    def retriable(self) -> bool:
        return self.kind != PERMANENT


def classify(error: str | BaseException | None, exc_type: str | None = None) -> Classification:
    """Classify a failure by exception type (given, or named in the text), then by text."""
    text = error if isinstance(error, str) else (
        f"{type(error).__name__}: {error}" if error is not None else "")
    types = [exc_type] if exc_type else []
    if isinstance(error, BaseException):
        types += [c.__name__ for c in type(error).__mro__]
    types += _TYPE_IN_TEXT.findall(text)
    for t in types:
        if t in _PERMANENT_TYPES:
            return Classification(PERMANENT, f"exception type {t}")
        if t in _RETRIABLE_TYPES and not _PERMANENT_TEXT.search(text):
            return Classification(RETRIABLE, f"exception type {t}")
    if m := _PERMANENT_TEXT.search(text):
        return Classification(PERMANENT, f"error text: {m.group(0)!r}")
    if m := _RETRIABLE_TEXT.search(text):
        return Classification(RETRIABLE, f"error text: {m.group(0)!r}")
    return Classification(UNKNOWN, "no known pattern")


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 60.0
    cap_seconds: float = 3600.0
    jitter: float = 0.2  # a delay is shortened by up to this fraction, at random
    max_unknown_attempts: int = 3
    max_attempts: int | None = None  # None: retriable failures retry until the TTL passes


DEFAULT_POLICY = RetryPolicy()


def backoff_seconds(attempt: int, policy: RetryPolicy = RetryPolicy(),
                    rng: random.Random | None = None) -> float:
    """Delay before retry number ``attempt`` (0 after the first failure):
    min(cap, base * 2**attempt), minus up to ``jitter`` of it at random (never above cap)."""
    delay = min(policy.cap_seconds, policy.base_seconds * (2 ** max(0, attempt)))
    r = (rng or random).random()
    return delay * (1.0 - policy.jitter * r)


def next_retry_state(ref: str, error: str, previous: RetryState | None, run_id: str | None,
                     now: float, policy: RetryPolicy = RetryPolicy(),
                     rng: random.Random | None = None,
                     exc_type: str | None = None) -> tuple[RetryState, Classification]:
    """The retry state after one more failure of ``ref``: when to try again, or give up."""
    c = classify(error, exc_type)
    attempts = (previous.attempts if previous else 0) + 1
    give_up = (c.kind == PERMANENT
               or (c.kind == UNKNOWN and attempts >= policy.max_unknown_attempts)
               or (policy.max_attempts is not None and attempts >= policy.max_attempts))
    next_at = None if give_up else now + backoff_seconds(attempts - 1, policy, rng)
    return RetryState(ref, attempts, c.kind, error, next_at, give_up, run_id), c


@dataclass(frozen=True)
class FailedRun:
    run_id: str
    job: str
    refs: tuple[str, ...]
    error: str  # the run's failure message (step failure, else run failure)
    updated_at: float = 0.0
    want_ids: tuple[str, ...] = ()  # wants the run was launched for


def decide_failures(runs: list[FailedRun], states: dict[str, str], errors: dict[str, str],
                    retries: dict[str, RetryState], now: float,
                    policy: RetryPolicy = RetryPolicy(), rng: random.Random | None = None
                    ) -> list[tuple[RetryState, Classification, FailedRun]]:
    """New retry states for the refs that failed runs left unbuilt, each run counted once.

    ``states``: ref -> current state; ``errors``: ref -> the catalog's error for failed
    partitions (more precise than the run's message, which names only the first failure).
    """
    out = []
    retries = dict(retries)
    for run in runs:
        for ref in run.refs:
            if states.get(ref) == "live":
                continue  # built after all (cut off, or by another build)
            prev = retries.get(ref)
            if prev is not None and prev.last_run_id == run.run_id:
                continue  # this run's failure is recorded already
            error = errors.get(ref) or run.error or "run failed without an error message"
            new, c = next_retry_state(ref, error, prev, run.run_id, now, policy, rng)
            retries[ref] = new
            out.append((new, c, run))
    return out
