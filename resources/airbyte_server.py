"""Server and Cloud modes: start an Airbyte job for a connection id through dagster-airbyte's
client, poll it to completion within the timeout, cancel it on timeout, cancel event or run
termination, and turn every fault into its own SyncOutcome."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import datetime, timedelta

from dagster_airbyte.translator import AirbyteJob, AirbyteJobStatusType

from .airbyte_client import (
    AirbyteApiError,
    AirbyteProtocolError,
    AirbyteRequestError,
    AirbyteTransientError,
    DatabuildAirbyteClient,
    Interrupted,
)
from .airbyte_config import secret_value
from .airbyte_model import AirbyteConnection, Redactor, SafeLog, SyncOutcome
from .airbyte_workspace import MissingCredential, make_client

RUNNING = (AirbyteJobStatusType.RUNNING, AirbyteJobStatusType.PENDING,
           AirbyteJobStatusType.INCOMPLETE)


def server_run(conn: AirbyteConnection, operation: str, *, timeout: float, log,
               cancel_event: threading.Event | None, env: Mapping[str, str] | None,
               streams: list[str] | None = None) -> SyncOutcome:
    """operation: "sync" or "clear" (whole connection, or ``streams``)."""
    redactor = Redactor()
    slog = SafeLog(log, redactor, f"airbyte {conn.name}: ")
    run = _Run(conn, operation, slog)
    try:
        for var in (conn.client_secret_env, conn.password_env, conn.client_id_env):
            redactor.add(secret_value(var, env) if var else None)
        client = make_client(conn, env)
    except MissingCredential as e:
        return run.outcome("failed", str(e), error="config")
    deadline = time.monotonic() + timeout
    client.configure_run(deadline=deadline, cancel_event=cancel_event, on_retry=slog.warning,
                         on_token=redactor.add)
    run.client = client
    try:
        return run.execute(client, deadline, timeout, cancel_event, streams)
    except Interrupted:
        return run.stop(client, "cancelled", "cancelled while retrying a request (run terminated)")
    except AirbyteRequestError as e:
        status, message, error = run.explain(e)
        return run.outcome(status, message, error=error)
    except BaseException:
        # run termination (Dagster interrupts, KeyboardInterrupt): never leave the job behind
        if run.job_id is not None:
            run.cancel(client)
        raise


class _Run:
    def __init__(self, conn: AirbyteConnection, operation: str, log: SafeLog):
        self.conn, self.operation, self.log = conn, operation, log
        self.job_id: int | None = None
        self.attempts = 1
        self.streams: tuple[str, ...] = ()
        self.client: DatabuildAirbyteClient | None = None
        self.ref = f"connection {conn.name!r} (Airbyte connection {conn.connection_id})"

    def outcome(self, status: str, message: str, records: int | None = None,
                error: str = "") -> SyncOutcome:
        message = self.log.redact(message)
        (self.log.info if status == "succeeded" else self.log.error)(message)
        if status != "succeeded" and not error:
            error = {"timed_out": "timeout", "cancelled": "cancelled",
                     "already_running": "lock_contention"}.get(status, "api")
        return SyncOutcome(connection=self.conn.name, mode=self.conn.mode,
                           operation=self.operation, status=status, message=message,
                           error=error, job_id=self.job_id, records=records, streams=self.streams,
                           attempts=self.attempts,
                           retries=self.client.retries if self.client else 0)

    def execute(self, client, deadline, timeout, cancel_event, streams) -> SyncOutcome:
        details = client.get_connection_details(self.conn.connection_id)
        catalog = [s for s in (details.get("syncCatalog") or {}).get("streams", [])]
        selected = [s["stream"]["name"] for s in catalog if s.get("config", {}).get("selected")]
        self.streams = tuple(streams or selected)
        if streams:
            known = {s["stream"]["name"] for s in catalog}
            unknown = [s for s in streams if s not in known]
            if unknown:
                return self.outcome("failed", f"cannot clear stream(s) {', '.join(unknown)}: not "
                                    f"in {self.ref}; its streams: {', '.join(sorted(known)) or 'none'}")
        running = self._running_jobs(client)
        if running:
            self.job_id = running[0].id
            return self.outcome("already_running", f"lock contention: {self.ref} already has "
                                f"Airbyte job {self.job_id} ({running[0].status}); refused to "
                                f"start another {self.operation} (retriable). Wait for it or "
                                "cancel it in Airbyte.")
        try:
            if self.operation == "sync":
                started = client.start_sync_job(self.conn.connection_id)
            elif streams:
                started = client.clear_streams(self.conn.connection_id,
                                               self._stream_refs(catalog, streams))
            else:
                started = client.start_job(self.conn.connection_id, self.conn.clear_job_type)
        except AirbyteRequestError as e:
            self.attempts = client.last_attempts
            adopted = self._adopt(client, e)
            if adopted is None:
                raise
            return self._poll(client, deadline, timeout, cancel_event)
        self.attempts = client.last_attempts
        self.job_id = started.get("jobId") or (started.get("job") or {}).get("id")
        if self.job_id is None:
            return self.outcome("failed", f"{self.ref}: Airbyte accepted the {self.operation} "
                                "but returned no job id")
        retried = f" after {self.attempts - 1} retried attempt(s)" if self.attempts > 1 else ""
        self.log.info(f"Airbyte job {self.job_id} started ({self.operation}){retried}")
        return self._poll(client, deadline, timeout, cancel_event)

    def _running_jobs(self, client) -> list[AirbyteJob]:
        try:
            jobs = client.get_jobs_for_connection(
                connection_id=self.conn.connection_id,
                created_after=datetime.now() - timedelta(days=2))
        except AirbyteApiError as e:
            if e.status in (401, 403):
                raise
            self.log.warning(f"could not list running jobs (HTTP {e.status}); starting anyway")
            return []
        return [j for j in jobs if j.status in RUNNING]

    def _adopt(self, client, e: AirbyteRequestError):
        """A start that was retried (after a 5xx, a timeout or a non-JSON answer) may have
        created the job the first time; Airbyte then answers the retry 409. That job is ours:
        find it in the connection's running jobs and poll it instead of giving up."""
        if not (isinstance(e, AirbyteApiError) and e.status == 409 and self.attempts > 1):
            return None
        try:
            running = self._running_jobs(client)
        except AirbyteRequestError:
            return None
        if not running:
            return None
        job = max(running, key=lambda j: j.id)
        self.job_id = job.id
        self.log.warning(f"the {self.operation} start was retried {self.attempts - 1} time(s) "
                         f"and Airbyte answered 409: adopted running Airbyte job {job.id} "
                         "(created by the first try) and polling it")
        return job

    def _stream_refs(self, catalog: list[dict], wanted: list[str]) -> list[dict[str, str]]:
        by_name = {s["stream"]["name"]: s["stream"] for s in catalog}
        refs = []
        for name in wanted:
            ref = {"streamName": name}
            if by_name[name].get("namespace"):
                ref["streamNamespace"] = by_name[name]["namespace"]
            refs.append(ref)
        return refs

    def _poll(self, client, deadline, timeout, cancel_event) -> SyncOutcome:
        interval = self.conn.poll_interval
        while True:
            if cancel_event is not None and cancel_event.is_set():
                return self.stop(client, "cancelled", "cancelled by run termination")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return self.stop(client, "timed_out", f"timed out after {timeout:g} s")
            wait = min(interval, remaining)
            if cancel_event is not None:
                if cancel_event.wait(wait):
                    continue
            else:
                time.sleep(wait)
            try:
                job = AirbyteJob.from_job_details(client.get_job_details(self.job_id))
            except AirbyteTransientError as e:  # 5xx, timeouts, non-JSON: the job goes on
                self.log.warning(f"polling Airbyte job {self.job_id}: {e}; polling on until "
                                 f"the {timeout:g} s deadline")
                continue
            if job.status in RUNNING:
                continue
            if job.status == AirbyteJobStatusType.SUCCEEDED:
                rows = job.rows_synced if self.operation == "sync" else None
                what = f", {rows} records" if rows is not None else ""
                return self.outcome("succeeded", f"Airbyte job {job.id} succeeded "
                                    f"({self.operation}{what})", records=rows)
            if job.status in (AirbyteJobStatusType.FAILED, AirbyteJobStatusType.ERROR):
                return self.outcome("failed", f"Airbyte job {job.id} failed ({self.operation} of "
                                    f"{self.ref}); see the job's logs in the Airbyte UI",
                                    error="job_failed")
            if job.status == AirbyteJobStatusType.CANCELLED:
                return self.outcome("cancelled", f"Airbyte job {job.id} was cancelled in Airbyte "
                                    f"({self.operation} of {self.ref})")
            return self.outcome("failed", f"Airbyte job {job.id} is in unexpected state "
                                f"{job.status!r}")

    def cancel(self, client) -> str:
        """Best-effort cancel of the started job; returns what happened, for the message."""
        client.configure_run(deadline=time.monotonic() + 30, cancel_event=None,
                             on_retry=self.log.warning, on_token=self.log.redact.add)
        try:
            client.cancel_job(self.job_id)
            self.log.warning(f"cancelled Airbyte job {self.job_id}")
            return f"Airbyte job {self.job_id} cancelled"
        except AirbyteRequestError as e:
            return f"cancelling Airbyte job {self.job_id} failed too: {e}; cancel it in Airbyte"

    def stop(self, client, status: str, why: str) -> SyncOutcome:
        done = self.cancel(client) if self.job_id is not None else "no Airbyte job was started"
        return self.outcome(status, f"{self.operation} of {self.ref} {why}; {done}")

    def explain(self, e: AirbyteRequestError) -> tuple[str, str, str]:
        """(status, message, error kind) for a request that failed for good. Messages name
        the failure class in words sensors/failures.py recognizes."""
        where = f"the Airbyte server at {e.host}" if e.host else "the Airbyte server"
        started = f" (Airbyte job {self.job_id})" if self.job_id is not None else ""
        if self.job_id is not None and not (isinstance(e, AirbyteApiError) and e.status == 409):
            started += f"; {self.cancel(self.client)}"
        if isinstance(e, AirbyteProtocolError):
            return "failed", (
                f"protocol error: {e}{started}. Something that is not the Airbyte API answered "
                f"(a proxy, login or UI page?): check rest_api_base_url ({where}); retriable, "
                "it may be temporary"), "protocol"
        if isinstance(e, AirbyteTransientError):
            if e.unreachable:
                return "failed", (
                    f"cannot reach {where} for {self.ref}: {e.what} on {e.method} {e.path} "
                    f"(after {e.retries} retries){started}. Check that Airbyte is running, that "
                    f"the connection's host/port or rest_api_base_url are right, and that this "
                    f"machine can reach it (proxy, firewall, DNS)."), "transient"
            return "failed", (f"{e}{started}; {where} keeps failing, check its health and "
                              "logs"), "transient"
        assert isinstance(e, AirbyteApiError)
        if e.status == 409:
            return "already_running", (
                f"lock contention: {self.ref} already has a job running in Airbyte; refused to "
                f"start another {self.operation} ({e}); retriable once that job ends"), \
                "lock_contention"
        if e.status in (401, 403):
            names = (f"client_id_env/client_secret_env ({self.conn.client_id_env}/"
                     f"{self.conn.client_secret_env})" if self.conn.client_id_env else
                     f"username_env/password_env ({self.conn.username_env}/"
                     f"{self.conn.password_env})" if self.conn.username_env else
                     "client_id_env/client_secret_env (none set)")
            return "failed", (f"{where} refused the credentials for {self.ref} (HTTP {e.status})"
                              f"{started}: check that {names} hold valid credentials"), "auth"
        if e.status == 404 and "/connections/get" in e.path:
            return "failed", (f"{where} does not know {self.ref} (HTTP 404): check "
                              f"connection_id and workspace_id ({self.conn.workspace_id})"), \
                "config"
        return "failed", f"{e}{started} ({self.ref})", "api"


__all__ = ["server_run"]
