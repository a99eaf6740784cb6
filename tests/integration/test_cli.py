"""The databuild command line, run as a user runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GRAPH = "tests.support.graphs:graph_from_env"


@pytest.fixture
def run(tmp_path, catalog_url):
    env = {**os.environ, "DBTEST_ROOT": str(tmp_path), "PYTHONPATH": str(REPO),
           "DATABUILD_HOME": str(tmp_path / "home"), "DATABUILD_CATALOG_URL": catalog_url,
           "DATABUILD_GRAPH": GRAPH}

    def _run(*args, ok=True, extra_env=None):
        p = subprocess.run([sys.executable, "-m", "databuild_assets.cli", *args],
                           env={**env, **(extra_env or {})},
                           capture_output=True, text=True, timeout=120)
        if ok is not None:
            assert (p.returncode == 0) == ok, (p.stdout, p.stderr)
        return p
    return _run


def test_plan_build_status_manifests_and_events_tell_one_consistent_story(run):
    plan = json.loads(run("plan", "--json", "trail/date=2024-01-14").stdout)
    assert [n["job"] for n in plan["nodes"]][-1] == "trail" and len(plan["nodes"]) == 9
    out = run("build", "trail/date=2024-01-14").stdout
    assert "jobs run 9, partitions built 15, skipped 0" in out
    again = run("build", "trail/date=2024-01-14").stdout
    assert "null build" in again and "partitions built 0" in again
    status = json.loads(run("status", "--json", "daily/date=2024-01-08..2024-01-14").stdout)
    assert [s["state"] for s in status] == ["live"] * 7
    manifests = json.loads(run("manifests", "--json", "trail/date=2024-01-14").stdout)
    assert manifests[0]["job"] == "trail" and len(manifests[0]["inputs"]) == 7
    events = run("events", "--limit", "500").stdout
    for kind in ("requested", "planned", "scheduled", "building", "available", "skipped"):
        assert kind in events


def test_taint_then_status_shows_the_chain_and_mermaid_draws_the_replan(run):
    run("build", "trail/date=2024-01-14")
    out = run("taint", "src/date=2024-01-10", "--reason", "duplicated rows").stdout
    assert "tainted" in out
    st = json.loads(run("status", "--json", "trail/date=2024-01-14").stdout)[0]
    assert st["state"] == "stale"
    assert "input daily/date=2024-01-10 is stale: input src/date=2024-01-10 was read at a " \
           "tainted version: duplicated rows" in st["reasons"][0]
    mm = run("mermaid", "trail/date=2024-01-14").stdout
    assert mm.startswith("flowchart LR") and "src/date=2024-01-10" in mm


@pytest.mark.parametrize("args, message", [
    (["plan", "trial/date=2024-01-01"], "no job produces dataset 'trial'"),
    (["plan", "trail/date=2024-13-01"], "expects a date like 2024-01-31"),
    (["plan", "trail/date=../../etc"], "values may not contain '/'"),
    (["plan", "trail/date=.."], "is not allowed"),
    (["taint", "trail/date=2024-01-01", "--reason", "x"], "has never been built"),
    (["--graph", "nope.module:graph", "plan", "x/y=1"], "cannot import graph module 'nope.module'"),
    (["--catalog", "postgresql://postgres@127.0.0.1:1/x", "plan", "trail/date=2024-01-01"],
     "cannot reach the PostgreSQL catalog"),
])
def test_bad_input_is_one_clear_line_and_a_nonzero_exit(run, args, message):
    p = run(*args, ok=False)
    assert p.returncode == 2
    lines = [line for line in p.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], p.stderr
    assert "Traceback" not in p.stderr


def test_a_failing_build_exits_nonzero_and_names_the_failed_partition(run, tmp_path):
    opts = json.dumps({"fail": ["src/date=2024-01-12"]})
    p = run("build", "trail/date=2024-01-14", ok=False, extra_env={"DBTEST_OPTS": opts})
    assert p.returncode == 1
    assert "failed src/date=2024-01-12: injected failure" in p.stdout
    assert "FAILED" in p.stdout and "blocked 2" in p.stdout


@pytest.mark.parametrize("args, message", [
    (["plan", "trail/date=0001-01-01..9999-12-31"], "expands to 3,652,059 refs, more than the "
                                                    "limit of 100,000"),
    (["--max-refs", "5", "plan", "trail/date=2024-01-01..2024-01-09"], "more than the limit of 5"),
    (["plan", "trail/date=" + "9" * 600], "refs may be at most 512 characters"),
    (["plan", "trail/date=2024-01-01\n"], "control character"),
    (["plan", "--", "trail/date=-rf"], "starts with '-'"),
    (["build", "--timeout", "-3", "trail/date=2024-01-01"], "-3"),
])
def test_limits_are_clear_errors_on_the_command_line(run, args, message):
    p = run(*args, ok=False)
    assert p.returncode == 2 and message in p.stderr, p.stderr
    assert "Traceback" not in p.stderr


def test_lookup_names_the_job_and_the_config_that_builds_a_ref(run):
    found = json.loads(run("lookup", "--json", "trail/date=2024-01-14").stdout)[0]
    assert found["job"] == "trail" and found["kind"] == "python"
    assert found["config"]["outputs"] == ["trail/date=2024-01-14"]
    assert {i["dep_type"] for i in found["config"]["inputs"]} == {"materialize"}
    assert len(found["config"]["inputs"]) == 7 and found["timeout"] == 3600
    text = run("lookup", "daily/date=2024-01-02").stdout
    assert "job daily" in text and "input:   src/date=2024-01-02 (materialize)" in text


def test_mermaid_draws_the_provenance_of_live_refs_and_the_dataset_graph(run):
    run("build", "trail/date=2024-01-14")
    prov = run("mermaid", "trail/date=2024-01-14").stdout
    assert prov.startswith("flowchart LR") and "classDef root" in prov
    assert "trail/date=2024-01-14<br/>trail@" in prov and "src/date=2024-01-08<br/>load_src@" in prov
    assert prov.count("<br/>daily@") == 7  # the exact daily versions it read
    plan = run("mermaid", "--plan", "trail/date=2024-01-14").stdout
    assert "classDef fresh" in plan
    ds = run("mermaid", "--datasets").stdout.splitlines()
    node = {line.split("(")[0].strip(): line.split('"')[1].split(" v")[0]  # name, no version
            for line in ds if '("' in line}
    job = {line.split("[")[0].strip(): line.split('"')[1] for line in ds if '["' in line}
    edges = {(node.get(a, job.get(a)), node.get(b, job.get(b)))
             for a, _arrow, b in (line.split() for line in ds if " --> " in line)}
    assert ("src", "daily") in edges and ("daily", "daily") in edges
    assert ("daily", "trail") in edges and ("trail", "trail") in edges


def test_plan_script_compiles_an_all_executable_plan_to_a_runnable_shell_script(run, tmp_path):
    chain = ["--graph", "tests.support.chain_exe:graph"]
    script = tmp_path / "build.sh"
    out = run(*chain, "plan", "--script", str(script), "stage2/d=1").stdout
    assert "wrote" in out and os.access(script, os.X_OK)
    text = script.read_text()
    assert text.index("# step 1: stage1") < text.index("# step 2: stage2")
    subprocess.run(["sh", str(script)], env={**os.environ, "OUT": str(tmp_path / "out")},
                   check=True, capture_output=True, text=True, timeout=120)
    import pandas as pd
    assert list(pd.read_parquet(tmp_path / "out" / "stage2" / "d=1" / "data.parquet").v) == [2, 4, 6]
    # a live input is read where the catalog says it is
    run(*chain, "build", "stage1/d=2")
    text = run(*chain, "plan", "--script", "-", "stage2/d=2").stdout
    assert "# step 1: stage2" in text and "stage1/d=2/part-" in text


def test_plan_script_refuses_plans_with_python_jobs_and_names_them(run):
    p = run("plan", "--script", "-", "trail/date=2024-01-14", ok=False)
    assert p.returncode == 2
    assert "Python job(s) daily, load_src, trail" in p.stderr and "databuild build" in p.stderr
