"""The automation sensors in a real Dagster instance run by a real ``dagster-daemon``
(sensors tick, runs are queued and launched as subprocesses), with notifications POSTed to a
local HTTP receiver.

One daemon serves the module. Its scenarios (a report with missing inputs, a flaky source,
a broken source, a slow source with an SLA) are wanted at once when it starts, as in
production, each on its own dates; each test then waits for and checks its own outcome."""

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from databuild_assets.core import Catalog, date_range
from databuild_assets.core.wants import create_want, get_want
from databuild_assets.dagster.run_contract import ATTEMPT_TAG, CLASS_TAG, run_refs
from tests.support.graphs import executions, land, make_graph
from tests.support.procs import stop_group

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# fx is only a QUERY input: the flaky and slow scenarios trigger no propagation work
FLAKY, BROKEN, SLOW = "fx/date=2024-04-01", "src/date=2024-05-01", "fx/date=2024-07-01"
REPORT, BROKEN_DAILY = "trail/date=2024-03-10", "daily/date=2024-05-01"
JUNE = date_range("2024-06-01", "2024-06-07")
OPTS = {"flaky": {FLAKY: 1}, "broken": [BROKEN], "slow": {SLOW: 8}}
DAGSTER_YAML = """\
telemetry: {enabled: false}
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config: {max_concurrent_runs: 3, dequeue_interval_seconds: 1}
"""


class Receiver(ThreadingHTTPServer):
    def __init__(self):
        self.payloads: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                server.payloads.append({**json.loads(body), "_received": time.time()})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def of(self, kind: str, ref: str) -> list[dict]:
        return [p for p in self.payloads if p["kind"] == kind and p["ref"] == ref]


class Env:
    def __init__(self, root: Path, home: Path, catalog_url: str, receiver: Receiver, log: Path):
        self.root, self.home, self.url, self.receiver, self.log = root, home, catalog_url, receiver, log
        self.catalog = Catalog.open(catalog_url)
        self.graph = make_graph(root, self.catalog, **OPTS)
        self.instance = dg.DagsterInstance.from_config(str(home))

    def wait(self, what: str, cond, timeout: float = 420.0):  # generous: shared 2 cores
        deadline = time.time() + timeout
        while time.time() < deadline:
            if cond():
                return
            time.sleep(0.5)
        tail = self.log.read_text()[-4000:] if self.log.exists() else ""
        raise AssertionError(f"timed out waiting for {what}\n--- daemon log tail ---\n{tail}")

    def runs_for(self, refs) -> list[dg.DagsterRun]:
        refs = set(refs)
        return [r for r in self.instance.get_runs() if refs & set(run_refs(self.graph, r))]

    def satisfied(self, want_id: str) -> bool:
        return get_want(self.catalog, want_id).state == "satisfied"

    def sensor_cursor(self, name: str) -> str | None:
        for state in self.instance.all_instigator_state():
            if state.instigator_name == name and state.instigator_data:
                return getattr(state.instigator_data, "cursor", None)
        return None


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("automation")
    home = root / "dagster"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    (root / "workspace.yaml").write_text(
        "load_from:\n  - python_module:\n      module_name: tests.support.automation_defs\n"
        f"      working_directory: {REPO}\n      location_name: automation\n")
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"sqlite:///{root / 'catalog.db'}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABUILD_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(home), DBTEST_ROOT=str(root), DBTEST_OPTS=json.dumps(OPTS),
               DATABUILD_CATALOG_URL=url, PYTHONPATH=str(REPO),
               DATABUILD_WEBHOOK_URL=f"http://127.0.0.1:{receiver.server_port}/hook?token=t0ps3cret")
    log = root / "daemon.log"
    e = Env(root, home, url, receiver, log)
    # June is built before the daemon starts (the propagation sensor starts at the log's end)
    e.graph.build(["trail/date=2024-06-07"] + [f"cube/color={c}/size={s}/date={d}"
                                               for d in JUNE for c in ("red", "blue") for s in "sml"])
    with open(log, "w") as out:
        proc = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(root / "workspace.yaml")],
                                env=env, cwd=root, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        e.wait("the propagation sensor's first tick",
               lambda: proc.poll() is None and e.sensor_cursor("databuild_propagate"), 120)
        e.wants = {ref: create_want(e.catalog, [ref], ttl="1h", source="test",
                                    sla="2s" if ref == SLOW else None).want_id
                   for ref in (REPORT, FLAKY, BROKEN_DAILY, SLOW)}
        yield e
    finally:
        stop_group(proc)
        receiver.shutdown()
        e.catalog.dispose()


def test_a_want_for_a_report_whose_inputs_are_missing_ends_live_without_manual_steps(env):
    report = REPORT
    env.wait("the want to be satisfied", lambda: env.satisfied(env.wants[REPORT]))
    assert env.graph.status([report])[report].state == "live"
    week = date_range("2024-03-04", "2024-03-10")
    wanted = [f"src/date={d}" for d in week] + [f"daily/date={d}" for d in week] + [report]
    ran = [line for line in executions(env.root) if line.split(" ")[1] in wanted]
    assert sorted(ran) == sorted(set(ran)) and len(ran) == 15  # each built exactly once
    by_job: dict[str, int] = {}
    for run in env.runs_for(wanted):
        by_job[run.job_name] = by_job.get(run.job_name, 0) + 1
    assert by_job == {"load_src__job": 1, "daily__job": 1, "trail__job": 1}  # batched waves


def test_a_transiently_failing_job_is_retried_with_backoff_and_succeeds(env):
    env.wait("the flaky want to be satisfied", lambda: env.satisfied(env.wants[FLAKY]))
    runs = sorted(env.runs_for([FLAKY]), key=lambda r: int(r.tags[ATTEMPT_TAG]))
    assert [(r.status.value, r.tags[ATTEMPT_TAG]) for r in runs] == [("FAILURE", "1"), ("SUCCESS", "2")]
    assert runs[0].tags[CLASS_TAG] == "retriable" and runs[1].tags[CLASS_TAG] == "retriable"
    (ev,) = [e for e in env.catalog.events(ref=FLAKY) if e.kind == "retry"]
    assert ev.detail["class"] == "retriable" and ev.detail["attempt"] == 1
    assert "TimeoutError" in ev.detail["error"]


def test_a_permanently_failing_job_is_not_retried_and_notifies_once(env):
    env.wait("the failure notification", lambda: env.receiver.of("failed", BROKEN))
    first = env.receiver.of("failed", BROKEN)[0]["_received"]
    time.sleep(max(0.0, first + 12 - time.time()))  # more sensor ticks: no retry, no 2nd note
    (run,) = env.runs_for([BROKEN])
    assert run.status == dg.DagsterRunStatus.FAILURE and run.tags[CLASS_TAG] == "permanent"
    assert run.tags["databuild/retry"] == "no"
    (note,) = env.receiver.of("failed", BROKEN)
    assert note["failure_class"] == "permanent" and "schema validation failed" in note["error"]
    assert note["want_ids"] == [env.wants[BROKEN_DAILY]]
    assert "t0ps3cret" not in json.dumps(env.receiver.payloads)
    assert [e.kind for e in env.catalog.events(ref=BROKEN) if e.kind in ("retry", "gave_up")] == [
        "gave_up"]
    assert env.runs_for([BROKEN_DAILY]) == []  # its dependent never ran
    assert get_want(env.catalog, env.wants[BROKEN_DAILY]).state == "active"  # until its TTL


def test_landing_a_new_day_triggers_exactly_the_dependent_partitions_in_one_run_per_job(env):
    before = set(executions(env.root))  # June 1-7 is built, and trail/date=2024-06-07
    day = "2024-06-08"
    land(env.root, day, [10, 20])
    env.graph.build([f"src/date={day}"])  # lands by another path than Dagster
    cube = [f"cube/color={c}/size={s}/date={day}" for c in ("red", "blue") for s in "sml"]
    expected = [f"daily/date={day}", f"part_a/date={day}", f"part_b/date={day}",
                f"trail/date={day}"] + cube
    env.wait("the dependents to be live", lambda: all(
        s.state == "live" for s in env.graph.status(expected).values()))
    time.sleep(7)  # and nothing else follows
    june = [line for line in executions(env.root) if "2024-06" in line and line not in before]
    assert sorted(line.split(" ")[1] for line in june) == sorted([f"src/date={day}"] + expected)
    runs = env.runs_for(expected)
    assert sorted(r.job_name for r in runs) == ["cube__job", "daily__job", "split__job", "trail__job"]
    assert all(r.tags["databuild/automation"] == "propagate" for r in runs)


def test_an_sla_breach_produces_one_notification_with_the_ref_the_sla_and_the_age(env):
    wid = env.wants[SLOW]
    env.wait("the slow want to be satisfied", lambda: env.satisfied(wid))
    time.sleep(6)
    (note,) = env.receiver.of("sla_breach", SLOW)
    assert note["want_id"] == wid and note["sla_seconds"] == 2.0
    assert note["age_seconds"] >= 2.0 and note["dataset"] == "fx"
    assert get_want(env.catalog, wid).sla_breached_at is not None
    assert env.receiver.of("sla_breach", REPORT) == []  # no SLA, no breach
