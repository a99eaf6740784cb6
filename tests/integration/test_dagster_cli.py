"""`dagster asset materialize` from a fresh checkout and instance, as a user runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import dagster as dg

from databuild_assets.core import Catalog
from tests.support.graphs import make_graph
from tests.support.procs import stop_group

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABUILD_", "DAGSTER_"))}
    (tmp_path / "dagster_home").mkdir(exist_ok=True)
    env.update(DATABUILD_HOME=str(tmp_path / "state"), DAGSTER_HOME=str(tmp_path / "dagster_home"),
               PYTHONPATH=str(REPO), DATABUILD_GRAPH="databuild_assets.examples.shop:graph")
    return env


def materialize(env, asset, key):
    return subprocess.run([str(BIN / "dagster"), "asset", "materialize", "-m",
                           "databuild_assets.definitions", "--select", asset, "--partition", key],
                          env=env, capture_output=True, text=True, timeout=300, cwd=REPO)


def databuild(env, *args):
    return subprocess.run([str(BIN / "databuild"), *args], env=env, capture_output=True,
                          text=True, timeout=300, cwd=REPO)


def test_materialize_fails_clearly_on_missing_inputs_then_works_for_1_2_and_3_dimensions(tmp_path):
    env = _env(tmp_path)
    p = materialize(env, "channel_revenue", "web|2024-01-05")
    assert p.returncode != 0
    assert ("MATERIALIZE input(s) not live and fresh: orders_clean/date=2024-01-05 (missing); "
            "build them first with: databuild build orders_clean/date=2024-01-05") in p.stdout + p.stderr
    assert databuild(env, "build", "orders_clean/date=2024-01-05").returncode == 0
    ok = materialize(env, "channel_revenue", "web|2024-01-05")  # two dimensions
    assert ok.returncode == 0, ok.stderr[-2000:]
    ms = json.loads(databuild(env, "manifests", "--json",
                              "channel_revenue/channel=web/date=2024-01-05").stdout)
    assert len(ms) == 1 and ms[0]["job"] == "channel_revenue"
    run_id = ms[0]["run_id"]
    inst = dg.DagsterInstance.from_config(env["DAGSTER_HOME"])
    assert inst.get_run_by_id(run_id) is not None  # the manifest names the Dagster run
    assert materialize(env, "orders", "2024-01-06").returncode == 0  # one dimension
    three = materialize(env, "region_sales", "2024-01-05|region=eu;channel=web")
    assert three.returncode == 0, three.stderr[-2000:]
    st = json.loads(databuild(env, "status", "--json", "orders/date=2024-01-06",
                              "region_sales/region=eu/channel=web/date=2024-01-05").stdout)
    assert [s["state"] for s in st] == ["live", "live"]


def test_with_postgres_storage_and_a_postgres_catalog_a_dagster_build_lands_in_both(
        tmp_path, pg_url, monkeypatch):
    from databuild_assets.dagster.launcher import build_with_dagster

    home = tmp_path / "dh"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        f"storage:\n  postgres:\n    postgres_url: \"{pg_url}\"\ntelemetry:\n  enabled: false\n")
    monkeypatch.setenv("DBTEST_ROOT", str(tmp_path))
    catalog = Catalog.open(pg_url + "?schema=databuild")
    g = make_graph(tmp_path, catalog)
    result = build_with_dagster(g, "tests.support.graphs:graph_from_env",
                                ["daily/date=2024-01-03"], dagster_home=home)
    assert result.ok, result.failed
    inst = dg.DagsterInstance.from_config(str(home))
    assert type(inst.run_storage).__name__ == "PostgresRunStorage"
    runs = inst.get_runs()
    assert len(runs) == 2 and {r.status.value for r in runs} == {"SUCCESS"}
    m = catalog.manifest_history(ref="daily/date=2024-01-03")[0]
    assert m.run_id in {r.run_id for r in runs}
    rec = inst.get_latest_data_version_record(dg.AssetKey("daily"), partition_key="2024-01-03")
    assert rec.asset_materialization.tags["dagster/data_version"] == m.data_version
    assert any(e.kind == "available" and e.ref == "daily/date=2024-01-03"
               for e in catalog.events(limit=100))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _without_venv(env: dict) -> dict:
    """PATH as on a fresh clone: no virtual environment on it."""
    path = [p for p in env.get("PATH", "").split(os.pathsep)
            if p and Path(p).resolve() != BIN.resolve()]
    return {**env, "PATH": os.pathsep.join(path or ["/usr/bin", "/bin"])}


def test_databuild_ui_serves_the_code_location_with_no_virtual_environment_on_path(tmp_path):
    import time
    import urllib.request

    env = _without_venv(_env(tmp_path))
    del env["DAGSTER_HOME"]  # the project's instance under DATABUILD_HOME, created on start
    port = _free_port()
    log = tmp_path / "ui.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(BIN / "databuild"), "ui", "--port", str(port)], env=env,
                                cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url, names = f"http://127.0.0.1:{port}", []
    try:
        deadline = time.time() + 240  # generous: shared cores; not an assertion on speed
        while time.time() < deadline and proc.poll() is None and not names:
            try:
                req = urllib.request.Request(url + "/graphql", data=json.dumps({"query": (
                    "{ repositoriesOrError { ... on RepositoryConnection { nodes { name "
                    "location { name } } } } }")}).encode(),
                    headers={"content-type": "application/json"})
                with urllib.request.urlopen(req, timeout=5) as r:
                    nodes = json.loads(r.read())["data"]["repositoriesOrError"].get("nodes", [])
                names = [n["location"]["name"] for n in nodes]
            except OSError:
                time.sleep(1)
        assert names == ["databuild_assets.definitions"], log.read_text()[-3000:]
    finally:
        stop_group(proc, grace=60)
    instance = dg.DagsterInstance.from_config(str(tmp_path / "state" / "dagster"))
    assert instance.run_retries_enabled and instance.run_monitoring_enabled


def test_databuild_dagster_runs_the_dagster_cli_on_the_projects_instance(tmp_path):
    env = _without_venv(_env(tmp_path))
    del env["DAGSTER_HOME"]
    p = databuild(env, "dagster", "instance", "info")
    assert p.returncode == 0, p.stderr[-2000:]
    home = tmp_path / "state" / "dagster"
    assert str(home) in p.stdout and "run_retries" in p.stdout
    assert (home / "dagster.yaml").is_file()


def test_the_code_location_knows_when_dagster_runs_on_a_throwaway_instance():
    from databuild_assets import settings

    assert not settings.load({}).dagster_home_shared  # the code location warns
    assert not settings.load({"DAGSTER_HOME": "/w/.tmp_dagster_home_x1"}).dagster_home_shared
    assert settings.load({"DAGSTER_HOME": "/w/.databuild/dagster"}).dagster_home_shared
