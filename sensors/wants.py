"""The wants sensor: a thin Dagster wrapper around ``decisions.decide_wants`` and
``failures.decide_failures``.

Each tick: (1) classify the failures of automation runs that failed since the last tick,
record attempt/class (catalog retry state, event log, run tags) and notify permanent ones;
(2) close satisfied/expired wants, notify SLA breaches once; (3) launch the ready part of
the missing work, one run per job and contiguous range, skipping what is in flight or
backing off; (4) deliver pending notifications.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time

from databuild_assets.core import Event, Graph
from databuild_assets.core.errors import DatabuildError
from databuild_assets.core.wants import (
    Want,
    active_wants,
    add_notification,
    clear_retries,
    close_wants,
    mark_sla_breached,
    record_failures,
    retry_states,
)

from .decisions import WantsDecision, decide_wants
from .failures import DEFAULT_POLICY, PERMANENT, RetryPolicy, decide_failures
from .notify import Notifier, deliver_pending, notifier_from_settings, redact

log = logging.getLogger(__name__)
FIRST_LOOKBACK_SECONDS = 3600.0
OVERLAP_SECONDS = 5.0  # runs finishing at about the cursor time are read again, then skipped


def _iso(ts: float | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(
        timespec="seconds")


def handle_failures(graph: Graph, instance, since: float, seen: set[str], now: float,
                    policy: RetryPolicy, rng: random.Random | None) -> tuple[float, set[str]]:
    """Classify automation runs that failed since the cursor; returns the next cursor:
    (newest update time, ids of runs seen in the last OVERLAP seconds before it)."""
    from databuild_assets.dagster.run_contract import ATTEMPT_TAG, CLASS_TAG

    from .runs import failed_runs

    found, newest = failed_runs(graph, instance, since - OVERLAP_SECONDS)
    runs = [r for r in found if r.run_id not in seen]
    seen = {r.run_id for r in found if r.updated_at >= newest - OVERLAP_SECONDS}
    if not runs:
        return newest, seen
    refs = sorted({r for run in runs for r in run.refs})
    st = graph.status(refs)
    states = {r: s.state for r, s in st.items()}
    errors = {r: s.reasons[0] for r, s in st.items() if s.state == "failed" and s.reasons}
    decided = decide_failures(runs, states, errors, retry_states(graph.catalog, refs), now,
                              policy, rng)
    events, tags = [], {}
    for new, c, run in decided:
        kind = "gave_up" if new.gave_up else "retry"
        events.append(Event(f"{run.run_id[:8]}-auto", kind, new.ref, run.job, {
            "class": c.kind, "reason": c.reason, "attempt": new.attempts, "run_id": run.run_id,
            "retry_at": _iso(new.next_attempt_at), "error": redact(new.error, 500)}))
        t = tags.setdefault(run.run_id, {CLASS_TAG: c.kind, ATTEMPT_TAG: str(new.attempts)})
        if c.kind == PERMANENT:
            t[CLASS_TAG] = PERMANENT
        t["databuild/retry"] = "no" if new.gave_up else (_iso(new.next_attempt_at) or "")
        if new.gave_up:
            wants = sorted(set(run.want_ids) | {w.want_id for w in active_wants(graph.catalog)
                                                  if new.ref in w.refs})
            add_notification(graph.catalog, f"failed:{new.ref}:{run.run_id}", "failed", {
                "ref": new.ref, "dataset": graph.registry.dataset(new.ref),
                "failure_class": c.kind, "reason": c.reason, "attempt": new.attempts,
                "error": redact(new.error, 500), "run_id": run.run_id, "want_ids": wants},
                ref=new.ref, dataset=graph.registry.dataset(new.ref), now=now)
    record_failures(graph.catalog, [new for new, _c, _r in decided], events, now=now)
    for run_id, t in tags.items():
        try:
            instance.add_run_tags(run_id, t)
        except Exception as e:  # noqa: BLE001 - tags are informative; the catalog has it all
            log.warning("could not tag run %s: %s", run_id, e)
    return newest, seen


def _valid_wants(graph: Graph, wants: list[Want]) -> list[Want]:
    ok = []
    for w in wants:
        try:
            for r in w.refs:
                graph.registry.parse(r)
            ok.append(w)
        except DatabuildError as e:
            log.warning("want %s is skipped: %s", w.want_id, e)
    return ok


def evaluate(graph: Graph, instance, now: float) -> WantsDecision:
    """Steps (2)-(3) of a tick: decide and record; returns the decision (with batches)."""
    from .runs import in_flight_refs

    catalog = graph.catalog
    wants = _valid_wants(graph, active_wants(catalog))
    retries = retry_states(catalog)
    wanted = sorted({r for w in wants for r in w.refs})
    known = [r for r in set(retries) | set(wanted) if _parses(graph, r)]
    status = {r: s.state for r, s in graph.status(known).items()} if known else {}
    live_retries = [r for r in retries if status.get(r) == "live"]
    if live_retries:
        clear_retries(catalog, live_retries)
        retries = {r: s for r, s in retries.items() if r not in live_retries}
    in_flight = in_flight_refs(graph, instance)
    try:
        decision = decide_wants(graph.registry, wants, status, graph.plan, in_flight, retries, now)
    except DatabuildError:
        good = [w for w in wants if _plans(graph, w, status)]
        decision = decide_wants(graph.registry, good, status, graph.plan, in_flight, retries, now)
    close_wants(catalog, decision.satisfied, decision.expired, now=now)
    by_id = {w.want_id: w for w in wants}
    for b in decision.breaches:
        w = by_id[b.want_id]
        add_notification(catalog, f"sla:{b.want_id}:{b.ref}", "sla_breach", {
            "ref": b.ref, "dataset": graph.registry.dataset(b.ref), "want_id": b.want_id,
            "sla_seconds": b.sla_seconds, "age_seconds": round(b.age_seconds, 1),
            "state": b.state, "deadline": _iso(w.sla_deadline), "source": w.source,
            "comment": w.comment}, want_id=b.want_id, ref=b.ref,
            dataset=graph.registry.dataset(b.ref), now=now)
    mark_sla_breached(catalog, {b.want_id for b in decision.breaches}, now=now)
    return decision


def _parses(graph: Graph, ref: str) -> bool:
    try:
        graph.registry.parse(ref)
        return True
    except DatabuildError:
        return False


def _plans(graph: Graph, want: Want, status: dict[str, str]) -> bool:
    try:
        graph.plan([r for r in want.refs if status.get(r) != "live"] or list(want.refs))
        return True
    except DatabuildError as e:
        log.warning("want %s cannot be planned: %s", want.want_id, e)
        return False


def build_wants_sensor(graph: Graph, jobs: list, notifier: Notifier | None = None, *,
                       interval_seconds: int = 30, policy: RetryPolicy = DEFAULT_POLICY,
                       clock=time.time, rng: random.Random | None = None,
                       name: str = "databuild_wants", default_status=None):
    import dagster as dg

    from .runs import run_requests

    @dg.sensor(name=name, jobs=jobs, minimum_interval_seconds=interval_seconds,
               default_status=default_status or dg.DefaultSensorStatus.RUNNING,
               description="Plans the missing work of active wants and launches it batched "
                           "(one run per job and contiguous range); retries retriable "
                           "failures with backoff until the TTL; reports SLA breaches.")
    def _sensor(context):
        cursor = json.loads(context.cursor) if context.cursor else {}
        now = clock()
        since = float(cursor.get("failures_after", now - FIRST_LOOKBACK_SECONDS))
        newest, seen = handle_failures(graph, context.instance, since,
                                       set(cursor.get("seen", ())), now, policy, rng)
        decision = evaluate(graph, context.instance, now)
        sent = deliver_pending(graph.catalog, notifier or notifier_from_settings())
        requests, dynamic = run_requests(graph, decision.batches, "wants")
        new_cursor = json.dumps({"failures_after": max(since, newest), "seen": sorted(seen)})
        summary = (f"{len(requests)} run(s); {len(decision.satisfied)} satisfied, "
                   f"{len(decision.expired)} expired, {len(decision.breaches)} SLA breach(es), "
                   f"{sent} notification(s) sent, {len(decision.waiting)} ref(s) waiting")
        context.log.info(summary)
        return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=dynamic or None,
                               cursor=new_cursor, skip_reason=None if requests else summary)

    return _sensor
