"""Task-layer faults through real pipeline runs (Dagster, in process): Airbyte server faults
end in the right failure class with the task lock free again; a hanging shell task is killed
whole at its timeout."""

from __future__ import annotations

import uuid

import pytest

from databuild_assets.dagster.sync import ensure_instance
from databuild_assets.pipeline_runs import run_pipeline
from sensors.failures import classify
from tests.support.fake_airbyte import FakeAirbyte, Fault
from tests.support.pipelines import write_file
from tests.support.procs import processes_with_env

pytestmark = pytest.mark.integration

FAULTS = {  # pipeline -> (fault, expected: "ok" or the failure class of the step's message)
    "lost_start": (Fault(lost_start="5xx"), "ok"),
    "poll_outage": (Fault(transient_5xx=5, transient_on=("poll",)), "ok"),
    "not_json": (Fault(html_on=("start",)), "retriable"),
    "busy": (Fault("conflict"), "retriable"),
}


def _failure_text(inst, run_id: str) -> str:
    return "\n".join(str(e.dagster_event.event_specific_data) for e in inst.all_logs(run_id)
                     if e.dagster_event and e.dagster_event.event_type_value == "STEP_FAILURE")


def test_airbyte_server_faults_end_classified_with_the_task_lock_released(tmp_path, monkeypatch):
    with FakeAirbyte() as fake:
        monkeypatch.setenv("AB_CLIENT_ID", fake.client_id)
        monkeypatch.setenv("AB_CLIENT_SECRET", fake.client_secret)
        common = {"rest_api_base_url": fake.rest_url, "configuration_api_base_url":
                  fake.config_url, "workspace_id": fake.workspace_id,
                  "client_id_env": "AB_CLIENT_ID", "client_secret_env": "AB_CLIENT_SECRET",
                  "poll_interval": 0.05, "request_retry_delay": 0.05, "request_max_retries": 1}
        conns = {name: {**common, "connection_id": fake.add_connection(f"c-{name}", fault)}
                 for name, (fault, _) in FAULTS.items()}
        f = write_file(tmp_path, [{"name": name, "target": "dev", "tasks": [
            {"slug": "airbyte-sync", "connection": name, "timeout": 60}]} for name in FAULTS],
            {"dev": {"type": "duckdb", "path": str(tmp_path / "wh.duckdb")}}, conns)
        inst = ensure_instance(tmp_path / "dh")
        for name, (_, expected) in FAULTS.items():
            with run_pipeline(str(f), name, inst) as result:
                text = _failure_text(inst, result.run_id)
                if expected == "ok":
                    assert result.success, text
                else:
                    assert not result.success
                    assert classify(text).kind == expected, text
            info = inst.event_log_storage.get_concurrency_info(f"airbyte:{name}")
            assert not info.claimed_slots and not info.pending_steps, name
        # the lost start was adopted: one job, polled to the end, never cancelled
        lost = [j for j in fake.jobs.values() if j["connectionId"] == "c-lost_start"]
        assert [j["status"] for j in lost] == ["succeeded"] and fake.cancelled == []
    assert "not JSON (text/html" in _failure_text(inst, inst.get_runs(limit=2)[1].run_id)
    assert "lock contention" in _failure_text(inst, inst.get_runs(limit=1)[0].run_id)


def test_a_hanging_shell_task_times_out_and_its_whole_process_group_is_killed(tmp_path):
    mark = uuid.uuid4().hex
    f = write_file(tmp_path, [{"name": "hang", "target": "dev", "tasks": [
        {"slug": "shell", "args": ["sh", "-c", "sleep 300 & sleep 300"], "timeout": 2,
         "env": {"DATABUILD_TEST_MARK": mark}}]}],
        {"dev": {"type": "duckdb", "path": str(tmp_path / "wh.duckdb")}})
    inst = ensure_instance(tmp_path / "dh")
    with run_pipeline(str(f), "hang", inst) as result:
        assert not result.success
        assert "timed out after 2 s; its process group was killed" in \
            _failure_text(inst, result.run_id)
    assert processes_with_env("DATABUILD_TEST_MARK", mark) == []
