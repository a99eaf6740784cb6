"""End to end through the Dagster UI: webserver on localhost, GraphQL, headless Chromium."""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.procs import stop_group

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gql(url: str, query: str) -> dict:
    req = urllib.request.Request(url + "/graphql", data=json.dumps({"query": query}).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        body = json.loads(r.read())
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture
def webserver(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABUILD_", "DAGSTER_"))}
    env.update(DATABUILD_HOME=str(tmp_path / "state"),
               DAGSTER_HOME=str(tmp_path / "state" / "dagster"), PYTHONPATH=str(REPO),
               DATABUILD_GRAPH="databuild_assets.examples.shop:graph")
    from databuild_assets.dagster.sync import ensure_instance
    from databuild_assets.examples.shop import shop_refs

    ensure_instance(tmp_path / "state" / "dagster")  # CLI builds are mirrored into it
    demo = subprocess.run([str(BIN / "databuild"), "build", *shop_refs()], env=env,
                          capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0, demo.stderr
    port = _port()
    proc = subprocess.Popen([str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port),
                             "-m", "databuild_assets.definitions"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url + "/server_info", timeout=2)
            break
        except OSError:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.5)
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def test_the_ui_serves_every_asset_partition_and_manifest_and_renders_without_errors(webserver):
    nodes = _gql(webserver, "{ assetNodes { assetKey { path } isPartitioned "
                            "partitionDefinition { type } } }")["assetNodes"]
    kinds = {"/".join(n["assetKey"]["path"]): (n["partitionDefinition"] or {}).get("type")
             for n in nodes if n["isPartitioned"]}
    assert kinds == {"orders": "TIME_WINDOW", "fx_rates": "TIME_WINDOW",
                     "orders_clean": "TIME_WINDOW", "orders_rejected": "TIME_WINDOW",
                     "trailing_revenue": "TIME_WINDOW", "channel_revenue": "MULTIPARTITIONED",
                     "region_sales": "MULTIPARTITIONED"}
    keys = _gql(webserver, '{ assetNodeOrError(assetKey: {path: ["region_sales"]}) '
                           '{ ... on AssetNode { partitionKeys } } }')
    assert "2024-01-14|region=eu;channel=web" in keys["assetNodeOrError"]["partitionKeys"]
    mats = _gql(webserver, '{ assetOrError(assetKey: {path: ["trailing_revenue"]}) { ... on Asset '
                           '{ assetMaterializations(partitions: ["2024-01-14"], limit: 1) '
                           '{ partition metadataEntries { label ... on TextMetadataEntry '
                           '{ text } } } } } }')
    (m,) = mats["assetOrError"]["assetMaterializations"]
    meta = {e["label"]: e.get("text") for e in m["metadataEntries"]}
    assert meta["databuild/ref"] == "trailing_revenue/date=2024-01-14"
    assert {"manifest_id", "data_version", "config_hash", "inputs", "dagster/row_count"} <= set(meta)

    if CHROMIUM is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed: `make test` installs it with apt-get")
        pytest.skip("chromium is not installed")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        for name, path, expect in [
            ("asset-graph", "/locations/databuild_assets.definitions/asset-groups/databuild",
             "trailing_revenue"),
            ("partition", "/assets/trailing_revenue?view=partitions&partition=2024-01-14",
             "manifest_id"),
        ]:
            page.goto(webserver + path)
            page.wait_for_selector(f"text={expect}", timeout=60_000)
            page.wait_for_timeout(2500)
            skip = page.get_by_role("button", name="Skip")  # the first-visit community dialog
            if skip.count():
                skip.click()
                page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / f"dagster-{name}.png"))
            text = page.inner_text("body")
            assert "PythonError" not in text and "Something went wrong" not in text, text[:2000]
        assert not errors, errors
        browser.close()


NEW_DAY = "2024-01-15"
LOCATION = "databuild_assets.definitions"


@pytest.fixture
def dagster_dev(tmp_path):
    """`databuild ui` (webserver + daemon, so the sensors run) on a state where the shop's
    first 14 days are built; no virtual environment on PATH."""

    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABUILD_", "DAGSTER_"))}
    env.update(DATABUILD_HOME=str(tmp_path / "state"), PYTHONPATH=str(REPO),
               DATABUILD_GRAPH="databuild_assets.examples.shop:graph",
               DATABUILD_PIPELINES_FILE=str(tmp_path / "none.yaml"),
               PATH=os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                    if p and Path(p).resolve() != BIN.resolve()))
    from databuild_assets.examples.shop import shop_refs

    built = subprocess.run([str(BIN / "databuild"), "build", *shop_refs()], env=env,
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    port = _port()
    log = tmp_path / "ui.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(BIN / "databuild"), "ui", "--port", str(port)], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300  # shared cores: generous, not an assertion on speed
    while time.time() < deadline:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if _gql(url, "{ repositoriesOrError { ... on RepositoryConnection { nodes { name } } } }"
                    )["repositoriesOrError"].get("nodes"):
                break
        except OSError:
            pass
        time.sleep(1)
    try:
        yield url, env, log
    finally:
        stop_group(proc, grace=60)


def _gql_vars(url: str, query: str, variables: dict) -> dict:
    req = urllib.request.Request(url + "/graphql", data=json.dumps(
        {"query": query, "variables": variables}).encode(),
        headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        body = json.loads(r.read())
    assert "errors" not in body, body
    return body["data"]


@pytest.mark.timeout(1800)
def test_a_new_day_requested_from_the_launchpad_is_built_by_the_sensors_and_shows_materialized(
        dagster_dev):
    url, env, log = dagster_dev
    ref = f"trailing_revenue/date={NEW_DAY}"
    # launched as the launchpad does (its GraphQL mutation, the config as typed in its editor)
    launched = _gql_vars(url, """
        mutation($p: ExecutionParams!) { launchPipelineExecution(executionParams: $p) {
          __typename ... on LaunchRunSuccess { run { runId } }
          ... on PythonError { message } ... on RunConfigValidationInvalid { errors { message } } } }""",
        {"p": {"selector": {"repositoryLocationName": LOCATION,
                            "repositoryName": "__repository__", "pipelineName": "request_build"},
               "runConfigData": {"ops": {"request_build_op": {"config": {
                   "refs": [ref], "ttl": "1h", "comment": "from the launchpad"}}}}}}
    )["launchPipelineExecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    from databuild_assets.cli import load_graph

    graph = load_graph("databuild_assets.examples.shop:graph").bind(
        f"sqlite:///{Path(env['DATABUILD_HOME']) / 'catalog.db'}",
        Path(env["DATABUILD_HOME"]) / "data")
    deadline = time.time() + 1500  # the daemon's queue and sensors on shared cores
    while graph.status([ref])[ref].state != "live":
        assert time.time() < deadline, f"{ref} never became live\n{log.read_text()[-4000:]}"
        time.sleep(3)
    mats = _gql(url, '{ assetOrError(assetKey: {path: ["trailing_revenue"]}) { ... on Asset '
                     f'{{ assetMaterializations(partitions: ["{NEW_DAY}"], limit: 1) '
                     '{ runId } } } }')["assetOrError"]["assetMaterializations"]
    assert mats and mats[0]["runId"] != run_id  # built by a run the wants sensor launched
    graph.catalog.dispose()

    if CHROMIUM is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("chromium is not installed: `make test` installs it with apt-get")
        pytest.skip("chromium is not installed (the build itself was checked)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        for name, path, expect in [
            ("request-build-launchpad", f"/locations/{LOCATION}/jobs/request_build/playground",
             "Launchpad"),
            ("request-build-run", f"/runs/{run_id}", "request_build_op"),
            ("requested-partition",
             f"/assets/trailing_revenue?view=partitions&partition={NEW_DAY}", "manifest_id"),
        ]:
            page.goto(url + path)
            page.wait_for_selector(f"text={expect}", timeout=120_000)
            page.wait_for_timeout(2500)
            skip = page.get_by_role("button", name="Skip")  # the first-visit community dialog
            if skip.count():
                skip.click()
                page.wait_for_timeout(500)
            page.screenshot(path=str(ARTIFACTS / f"dagster-{name}.png"))
            text = page.inner_text("body")
            assert "PythonError" not in text and "Something went wrong" not in text, text[:2000]
        assert NEW_DAY in text
        browser.close()
