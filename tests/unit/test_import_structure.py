"""The package structure issue 13 asks for, checked on the source: no import cycle (imports
inside functions count) and Dagster's `_core` internals imported only by the run contract. The layer
contracts are import-linter's (`.importlinter`, run by `make lint`)."""

from pathlib import Path

from tools.import_graph import cycles, graph, private_dagster_imports

ROOT = Path(__file__).resolve().parents[2]

# Dagster's cron parser outside the run contract, on purpose: pipelines.yaml schedules become
# Dagster schedules, so a cron is validated and iterated exactly as Dagster will evaluate it.
# These are the task layer's (resources), which may not import the Dagster adapter.
DAGSTER_CRON_USERS = {"resources.pipelines", "resources.tick"}


def test_no_module_imports_itself_back_through_a_cycle():
    assert cycles(graph(ROOT)) == []


def test_only_the_run_contract_imports_dagster_core_internals():
    users = private_dagster_imports(ROOT)
    core = {m for m, names in users.items() if any(n.startswith("dagster._core") for n in names)}
    assert core == {"databuild_assets.dagster.run_contract"}


def test_other_dagster_internals_are_only_its_cron_parser_where_schedules_are_read():
    users = private_dagster_imports(ROOT)
    others = {m: names for m, names in users.items()
              if m != "databuild_assets.dagster.run_contract"}
    assert set(others) == DAGSTER_CRON_USERS
    assert set().union(*others.values()) == {"dagster._utils.schedules"}
