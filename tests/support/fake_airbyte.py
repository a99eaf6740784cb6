"""A local HTTP server speaking the subset of the Airbyte APIs that dagster-airbyte's
AirbyteWorkspace client calls, with faults injected per connection.

Public API (``/api/public/v1``): POST applications/token, GET workspaces/{id}, GET connections,
GET destinations/{id}, GET/POST jobs, GET/DELETE jobs/{id}. Configuration API (``/api/v1``):
POST connections/get, POST connections/reset/stream. Every other request is answered 404.

Faults (``Fault.kind``): success, failed, cancelled (by someone in Airbyte), hang (the job stays
running until it is cancelled), conflict (POST /jobs answers 409 "already running"),
running_elsewhere (the jobs list shows a running job), echo (POST /jobs answers 400 echoing the
credentials it saw, like a careless proxy). ``transient_5xx`` answers N 503s before answering
normally, on the requests named by ``transient_on``. Like Airbyte, POST /jobs answers 409 while
a job of the connection runs. ``lost_start`` ("5xx" or "slow") creates the job on the first
POST /jobs but answers 502, or answers only after ``slow_s`` (past the client's timeout).
``html_on`` answers 200 with an HTML page (not JSON) on those requests, ``html_count`` times.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

REST = "/api/public/v1"
CONFIG = "/api/v1"


@dataclass
class Fault:
    kind: str = "success"
    transient_5xx: int = 0
    transient_on: tuple[str, ...] = ("start",)  # start | poll | get
    polls_before_done: int = 1
    rows: int = 42
    lost_start: str = ""  # "" | "5xx" | "slow"
    slow_s: float = 2.0
    html_on: tuple[str, ...] = ()  # start | poll | get
    html_count: int = 10 ** 6


@dataclass
class Slow:
    seconds: float
    payload: dict


@dataclass
class Html:
    text: str = "<html><head><title>Sign in</title></head><body>proxy login</body></html>"


@dataclass
class Seen:
    method: str
    path: str
    body: dict | None
    headers: dict
    at: float = field(default_factory=time.monotonic)


class FakeAirbyte:
    def __init__(self, client_id: str = "databuild-client-id",
                 client_secret: str = "cs-4f1d9a7e-never-log-me", workspace_id: str = "ws-1"):
        self.client_id, self.client_secret, self.workspace_id = client_id, client_secret, workspace_id
        self.tokens: list[str] = []
        self.connections: dict[str, dict] = {}
        self.faults: dict[str, Fault] = {}
        self.jobs: dict[int, dict] = {}
        self.seen: list[Seen] = []
        self.cancelled: list[int] = []
        self.cleared: list[dict] = []
        self._polls: dict[int, int] = {}
        self._five: dict[tuple[str, str], int] = {}
        self._html: dict[tuple[str, str], int] = {}
        self._lost: set[str] = set()
        self._next_job = 100
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- setup -------------------------------------------------------------------------
    def add_connection(self, connection_id: str, fault: Fault | None = None, *,
                       name: str | None = None,
                       streams: tuple[tuple[str, str | None], ...] = (("orders", "public"),
                                                                       ("customers", "public")),
                       ) -> str:
        self.connections[connection_id] = {
            "connectionId": connection_id, "name": name or f"conn {connection_id}",
            "prefix": "", "destinationId": "dest-1", "status": "active",
            "syncCatalog": {"streams": [
                {"stream": {"name": s, **({"namespace": ns} if ns else {}),
                            "jsonSchema": {"type": "object", "properties": {"id": {"type": "integer"}}}},
                 "config": {"selected": True, "syncMode": "full_refresh"}} for s, ns in streams]},
        }
        self.faults[connection_id] = fault or Fault()
        return connection_id

    @property
    def base_url(self) -> str:
        assert self._server, "start the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def rest_url(self) -> str:
        return self.base_url + REST

    @property
    def config_url(self) -> str:
        return self.base_url + CONFIG

    def start(self) -> FakeAirbyte:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                status, payload = fake._route(self.command, self.path, body, dict(self.headers))
                if isinstance(payload, Slow):
                    time.sleep(payload.seconds)  # outside the fake's lock
                    payload = payload.payload
                ctype = "application/json"
                if isinstance(payload, Html):
                    data, ctype = payload.text.encode(), "text/html; charset=utf-8"
                else:
                    data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True,
                         name="fake-airbyte").start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeAirbyte:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what the tests look at --------------------------------------------------------
    def requests_to(self, method: str, path_suffix: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method
                and urlsplit(s.path).path.endswith(path_suffix)]

    # -- routing -----------------------------------------------------------------------
    def _route(self, method: str, raw_path: str, body, headers) -> tuple[int, dict]:
        url = urlsplit(raw_path)
        path, query = url.path, {k: v[0] for k, v in parse_qs(url.query).items()}
        with self._lock:
            self.seen.append(Seen(method, raw_path, body, headers))
            if method == "POST" and path == f"{REST}/applications/token":
                return self._token(body or {})
            auth = headers.get("Authorization", "")
            if not (auth.startswith("Bearer ") and auth[7:] in self.tokens):
                return 401, {"title": "Unauthorized", "detail": "missing or invalid bearer token"}
            if method == "GET" and path == f"{REST}/workspaces/{self.workspace_id}":
                return 200, {"workspaceId": self.workspace_id, "name": "fake workspace"}
            if method == "GET" and path == f"{REST}/connections":
                return 200, {"data": [{"connectionId": c, "name": d["name"]}
                                      for c, d in self.connections.items()], "next": ""}
            if method == "GET" and path.startswith(f"{REST}/destinations/"):
                return 200, {"destinationId": path.rsplit("/", 1)[1], "destinationType": "postgres",
                             "configuration": {"database": "warehouse", "schema": "raw"}}
            if method == "POST" and path == f"{CONFIG}/connections/get":
                cid = (body or {}).get("connectionId")
                if cid not in self.connections:
                    return 404, {"title": "not found", "detail": f"connection {cid} not found"}
                return self._maybe_5xx(cid, "get") or self._maybe_html(cid, "get") or \
                    (200, self.connections[cid])
            if method == "GET" and path == f"{REST}/jobs":
                return 200, {"data": self._job_list(query.get("connectionId")), "next": ""}
            if method == "POST" and path == f"{REST}/jobs":
                return self._start((body or {}).get("connectionId"), body or {}, headers)
            if path.startswith(f"{REST}/jobs/"):
                job_id = int(path.rsplit("/", 1)[1])
                if job_id not in self.jobs:
                    return 404, {"title": "not found", "detail": f"job {job_id} not found"}
                return self._cancel(job_id) if method == "DELETE" else self._poll(job_id)
            if method == "POST" and path == f"{CONFIG}/connections/reset/stream":
                cid = (body or {}).get("connectionId")
                self.cleared.append(body or {})
                job = self._new_job(cid, "reset_connection")
                return 200, {"job": {"id": job["jobId"], "configType": "reset_connection",
                                     "configId": cid, "status": "pending"}, "attempts": []}
            return 404, {"title": "not found", "detail": f"{method} {path} is not faked"}

    def _token(self, body: dict) -> tuple[int, dict]:
        if body.get("client_id") != self.client_id or body.get("client_secret") != self.client_secret:
            return 401, {"title": "Unauthorized", "detail": "invalid client credentials"}
        token = f"tok-{uuid.uuid4().hex}"
        self.tokens.append(token)
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 180}

    def _maybe_5xx(self, cid: str, where: str):
        fault = self.faults.get(cid, Fault())
        if where in fault.transient_on:
            used = self._five.get((cid, where), 0)
            if used < fault.transient_5xx:
                self._five[(cid, where)] = used + 1
                return 503, {"title": "Service Unavailable", "detail": "temporarily overloaded"}
        return None

    def _maybe_html(self, cid: str, where: str):
        fault = self.faults.get(cid, Fault())
        if where in fault.html_on:
            used = self._html.get((cid, where), 0)
            if used < fault.html_count:
                self._html[(cid, where)] = used + 1
                return 200, Html()
        return None

    def _new_job(self, cid: str, job_type: str, status: str = "running") -> dict:
        self._next_job += 1
        job = {"jobId": self._next_job, "status": status, "jobType": job_type,
               "connectionId": cid, "startTime": datetime.now(UTC).isoformat(),
               "bytesSynced": 0, "rowsSynced": 0}
        self.jobs[job["jobId"]] = job
        self._polls[job["jobId"]] = 0
        return job

    def _job_list(self, cid: str | None) -> list[dict]:
        jobs = [dict(j) for j in self.jobs.values() if cid is None or j["connectionId"] == cid]
        if cid and self.faults.get(cid, Fault()).kind == "running_elsewhere":
            jobs.append({"jobId": 900, "status": "running", "jobType": "sync",
                         "connectionId": cid, "startTime": datetime.now(UTC).isoformat()})
        return jobs

    def _start(self, cid: str, body: dict, headers: dict) -> tuple[int, dict]:
        if cid not in self.connections:
            return 404, {"title": "not found", "detail": f"connection {cid} not found"}
        fault = self.faults[cid]
        busy = self._maybe_5xx(cid, "start") or self._maybe_html(cid, "start")
        if busy:
            return busy
        if any(j["connectionId"] == cid and j["status"] in ("running", "pending")
               for j in self.jobs.values()):
            return 409, {"title": "try-again-later", "status": 409,
                         "detail": f"A sync is already running for: {cid}"}
        if fault.kind == "conflict":
            return 409, {"type": "https://reference.airbyte.com/reference/errors#try-again-later",
                         "title": "try-again-later", "status": 409,
                         "detail": f"A sync is already running for: {cid}"}
        if fault.kind == "echo":
            return 400, {"title": "bad request", "detail": f"rejected {json.dumps(body)} with "
                         f"Authorization {headers.get('Authorization')} for client_secret "
                         f"{self.client_secret}"}
        job = self._new_job(cid, body.get("jobType", "sync"))
        if fault.lost_start and cid not in self._lost:  # created, but the answer is lost
            self._lost.add(cid)
            if fault.lost_start == "5xx":
                return 502, {"title": "Bad Gateway", "detail": "upstream reset"}
            return 200, Slow(fault.slow_s, dict(job))
        return 200, dict(job)

    def _poll(self, job_id: int) -> tuple[int, dict]:
        job = self.jobs[job_id]
        busy = self._maybe_5xx(job["connectionId"], "poll") or \
            self._maybe_html(job["connectionId"], "poll")
        if busy:
            return busy
        self._polls[job_id] += 1
        fault = self.faults.get(job["connectionId"], Fault())
        if job["status"] == "running" and self._polls[job_id] > fault.polls_before_done:
            if fault.kind == "hang":
                pass
            elif fault.kind == "failed":
                job["status"] = "failed"
            elif fault.kind == "cancelled":
                job["status"] = "cancelled"
            else:
                job["status"] = "succeeded"
                job["rowsSynced"] = fault.rows if job["jobType"] == "sync" else 0
                job["bytesSynced"] = fault.rows * 100
        return 200, dict(job)

    def _cancel(self, job_id: int) -> tuple[int, dict]:
        job = self.jobs[job_id]
        self.cancelled.append(job_id)
        if job["status"] in ("running", "pending", "incomplete"):
            job["status"] = "cancelled"
        return 200, dict(job)


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
