"""The package structure issue 13 asks for, checked on the source: no import cycle (imports
inside functions count) and Dagster internals imported only by the run contract. The layer
contracts are import-linter's (`.importlinter`, run by `make lint`)."""

from pathlib import Path

from tools.import_graph import cycles, graph, private_dagster_imports

ROOT = Path(__file__).resolve().parents[2]

# TODO(issue 13): Dagster internals still imported outside the run contract
PRIVATE_DAGSTER_DEBT = {
    "databuild_assets.dagster.retries",  # RETRY_ON_ASSET_OR_OP_FAILURE_TAG
    "resources.locks",  # interrupt helpers for a run waiting on a task lock
    "resources.pipelines",  # cron validation (dagster._utils)
    "resources.tick",  # cron iteration (dagster._utils)
}


def test_no_module_imports_itself_back_through_a_cycle():
    assert cycles(graph(ROOT)) == []


def test_only_the_run_contract_imports_dagster_internals():
    users = set(private_dagster_imports(ROOT))
    assert users - PRIVATE_DAGSTER_DEBT == {"databuild_assets.dagster.run_contract"}
