"""Scale-out on Dagster's own engine, on this machine: a gRPC code server, the webserver and
the daemon as separate processes on PostgreSQL storage (deploy/dagster.yaml with
max_concurrent_runs: 2), fed 50 partitions through the run queue over GraphQL, as 10 runs
of 5-day ranges.

No Docker here, so the processes are the same commands deploy/docker-compose.yaml runs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as sa
import yaml
from dagster._core.events import DagsterEventType
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)

from benchmarks import daily
from databuild_assets.core import Catalog

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.timeout(900),
              pytest.mark.filterwarnings("ignore:Using variable_values:DeprecationWarning")]

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PARTITIONS = 50
PER_RUN = 5  # each queued run builds a 5-day range (one run per day works too, 5x slower)
MAX_RUNS = 2
LOCATION = "databuild"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, check, timeout: float, procs=(), every: float = 0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for p in procs:
            assert p.poll() is None, f"{p.args[0]} exited while waiting for {what}: " \
                                     f"{Path(p.log).read_text()[-3000:]}"
        try:
            value = check()
        except OSError:
            value = None
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _gql(url: str, query: str, variables: dict | None = None) -> dict:
    req = urllib.request.Request(url + "/graphql", headers={"content-type": "application/json"},
                                 data=json.dumps({"query": query,
                                                  "variables": variables or {}}).encode())
    with urllib.request.urlopen(req, timeout=30) as r:
        body = json.loads(r.read())
    assert "errors" not in body, body
    return body["data"]


class Stack:
    def __init__(self, tmp: Path, pg_url: str):
        url = sa.engine.make_url(pg_url)
        self.tmp, self.pg_url = tmp, pg_url
        self.home = tmp / "dagster_home"
        self.home.mkdir()
        config = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
        config["concurrency"]["runs"]["max_concurrent_runs"] = MAX_RUNS
        config["run_coordinator"]["config"] = {"dequeue_interval_seconds": 1}
        (self.home / "dagster.yaml").write_text(yaml.safe_dump(config))
        self.catalog_url = f"{pg_url}?schema=databuild"
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("DATABUILD_", "DAGSTER_"))}
        self.env.update({
            "DAGSTER_HOME": str(self.home), "DAGSTER_PG_HOST": url.host or "127.0.0.1",
            "DAGSTER_PG_PORT": str(url.port or 5432), "DAGSTER_PG_USER": url.username or "",
            "DAGSTER_PG_PASSWORD": url.password or "", "DAGSTER_PG_DB": url.database,
            "DATABUILD_CATALOG_URL": self.catalog_url, "DATABUILD_GRAPH": "benchmarks.daily:graph",
            "DATABUILD_DATA_ROOT": str(tmp / "data"), "DATABUILD_PROJECT_DIR": str(tmp),
            "DATABUILD_HOME": str(tmp / "state"), "PYTHONPATH": str(REPO),
        })
        self.grpc_port, self.web_port = _port(), _port()
        self.url = f"http://127.0.0.1:{self.web_port}"
        (tmp / "workspace.yaml").write_text(yaml.safe_dump({"load_from": [{"grpc_server": {
            "host": "127.0.0.1", "port": self.grpc_port, "location_name": LOCATION}}]}))
        self.procs: list[subprocess.Popen] = []

    def start(self, name: str, *args: str) -> subprocess.Popen:
        log = self.tmp / f"{name}.log"
        proc = subprocess.Popen([str(BIN / args[0]), *args[1:]], cwd=self.tmp, env=self.env,
                                stdout=open(log, "w"), stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own group: teardown stops run workers too
        proc.log = str(log)
        self.procs.append(proc)
        return proc

    def up(self) -> None:
        self.start("code-server", "dagster", "code-server", "start", "-m",
                   "databuild_assets.definitions", "-h", "127.0.0.1", "-p", str(self.grpc_port))
        _wait("the code server", self._code_server_healthy, 180, self.procs, every=1)
        self.start("webserver", "dagster-webserver", "-h", "127.0.0.1", "-p",
                   str(self.web_port), "-w", "workspace.yaml")
        self.start("daemon", "dagster-daemon", "run", "-w", "workspace.yaml")
        _wait("the webserver", lambda: urllib.request.urlopen(self.url + "/server_info",
                                                              timeout=2), 180, self.procs)
        _wait("the code location to load over gRPC", self._location_loaded, 180, self.procs)

    def _code_server_healthy(self) -> bool:
        return subprocess.run([str(BIN / "dagster"), "api", "grpc-health-check", "-p",
                               str(self.grpc_port)], env=self.env, capture_output=True,
                              timeout=60).returncode == 0

    def _location_loaded(self) -> bool:
        data = _gql(self.url, "{ workspaceOrError { ... on Workspace { locationEntries { name "
                              "locationOrLoadError { __typename ... on PythonError { message } } "
                              "} } } }")
        (entry,) = data["workspaceOrError"]["locationEntries"]
        status = entry["locationOrLoadError"]
        if status and status["__typename"] == "PythonError":
            raise AssertionError(f"code location failed to load: {status['message']}")
        return bool(status) and status["__typename"] == "RepositoryLocation"

    def instance(self) -> dg.DagsterInstance:  # DAGSTER_PG_* are set by the fixture
        return dg.DagsterInstance.from_config(str(self.home))

    def down(self) -> None:
        for proc in reversed(self.procs):  # daemon first: nothing new is launched meanwhile
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@pytest.fixture
def stack(tmp_path, pg_url, monkeypatch):
    for key in [k for k in os.environ if k.startswith("DAGSTER_PG_")] + ["DAGSTER_HOME"]:
        monkeypatch.delenv(key, raising=False)
    s = Stack(tmp_path, pg_url)
    for key in ("DAGSTER_HOME", "DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_USER",
                "DAGSTER_PG_PASSWORD", "DAGSTER_PG_DB"):
        monkeypatch.setenv(key, s.env[key])
    try:
        s.up()
        yield s
    finally:
        s.down()


def _peak_in_progress(instance: dg.DagsterInstance, run_ids: list[str]) -> int:
    """Most runs between launch (RUN_STARTING) and their end at any moment."""
    edges = []
    for rid in run_ids:
        (starting,) = instance.all_logs(rid, of_type=DagsterEventType.RUN_STARTING)
        end = instance.get_run_record_by_id(rid).end_time
        edges += [(starting.timestamp, 1), (end, -1)]
    peak = now = 0
    for _ts, step in sorted(edges, key=lambda e: (e[0], e[1])):  # ends before starts at a tie
        now += step
        peak = max(peak, now)
    return peak


def test_fifty_partitions_queued_over_graphql_land_once_each_with_two_runs_at_a_time(stack):
    from dagster_graphql import DagsterGraphQLClient

    client = DagsterGraphQLClient("127.0.0.1", port_number=stack.web_port)
    days = daily.days(PARTITIONS)
    ranges = [days[i:i + PER_RUN] for i in range(0, PARTITIONS, PER_RUN)]
    run_ids = [client.submit_job_execution(
        "extract__job", repository_location_name=LOCATION, repository_name="__repository__",
        tags={ASSET_PARTITION_RANGE_START_TAG: r[0], ASSET_PARTITION_RANGE_END_TAG: r[-1]})
        for r in ranges]
    instance = stack.instance()
    sampled_peak = 0

    def all_done() -> bool:
        nonlocal sampled_peak
        runs = instance.get_runs(dg.RunsFilter(run_ids=run_ids))
        busy = [r for r in runs if r.status in (dg.DagsterRunStatus.STARTING,
                                                dg.DagsterRunStatus.STARTED)]
        sampled_peak = max(sampled_peak, len(busy))
        return all(r.is_finished for r in runs) and len(runs) == len(run_ids)

    _wait(f"{len(run_ids)} queued runs to finish", all_done, 600, stack.procs, every=0.25)
    runs = {r.run_id: r for r in instance.get_runs(dg.RunsFilter(run_ids=run_ids))}
    failed = {rid: r.status.value for rid, r in runs.items() if r.status != dg.DagsterRunStatus.SUCCESS}
    assert not failed, failed
    assert sampled_peak <= MAX_RUNS
    assert _peak_in_progress(instance, run_ids) == MAX_RUNS  # two at a time, never three

    catalog = Catalog.open(stack.catalog_url)
    refs = [daily.EXTRACT.format(date=d) for d in days]
    history = catalog.manifest_history(dataset="extract", limit=10 * PARTITIONS)
    per_ref = {r: [m for m in history if m.ref == r] for r in refs}
    assert {r: len(ms) for r, ms in per_ref.items() if len(ms) != 1} == {}  # each exactly once
    assert {m.ref for m in history} == set(refs)
    assert all(s.state == "live" for s in catalog.partitions(refs).values())
    assert len(catalog.partitions(refs)) == PARTITIONS
    for ref, (m,) in per_ref.items():  # written by the run that was queued for its days
        tags = runs[m.run_id].tags
        day = daily.EXTRACT.parse(ref)["date"]
        assert tags[ASSET_PARTITION_RANGE_START_TAG] <= day <= tags[ASSET_PARTITION_RANGE_END_TAG]
    catalog.dispose()
