"""The shape of the code location is pinned: asset keys, partitions definitions, the partition
mapping of every dependency, asset checks, jobs, schedules and sensors of the real
`databuild_assets.definitions` (loaded as Dagster loads it, in the contract tests' environment:
tests/support/code_location.py) must equal tests/snapshots/code_location.json.

A change there is then a reviewed change: when it is intended, regenerate the file with
``UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/integration/test_code_location_snapshot.py``
and commit it with the change."""

import difflib
import json
import os
from pathlib import Path

import pytest

from tests.support.code_location import location_env, run_in_location

pytestmark = pytest.mark.integration
SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "code_location.json"
SHAPE = ("import runpy; "
         "runpy.run_module('tests.support.location_snapshot', run_name='__main__')")


def render(shape: dict) -> str:
    return json.dumps(shape, indent=1, sort_keys=True) + "\n"


def test_the_code_location_has_the_committed_assets_partitions_mappings_jobs_and_automation(
        tmp_path):
    env, _warehouse = location_env(tmp_path)
    now = render(run_in_location(env, SHAPE))
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(now)
        pytest.skip(f"UPDATE_SNAPSHOTS=1: wrote {SNAPSHOT}")
    assert SNAPSHOT.exists(), f"no snapshot yet: run with UPDATE_SNAPSHOTS=1 to write {SNAPSHOT}"
    committed = SNAPSHOT.read_text()
    if now != committed:
        diff = "".join(difflib.unified_diff(committed.splitlines(True), now.splitlines(True),
                                            "committed snapshot", "code location now"))
        pytest.fail(f"the code location changed:\n{diff}\nIf this change is intended, run "
                    "UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest "
                    "tests/integration/test_code_location_snapshot.py and commit "
                    f"{SNAPSHOT.relative_to(SNAPSHOT.parents[2])}", pytrace=False)
