"""The state enums are the strings the catalog stores and staleness reports."""

import json

from databuild_assets.core import BuildState, PartitionState
from databuild_assets.core.staleness import LIVE, Status


def test_states_equal_their_stored_strings_and_serialise_as_them():
    assert PartitionState.LIVE == "live" and "building" == PartitionState.BUILDING
    assert BuildState.RUNNING == "running"
    assert json.dumps({"s": PartitionState.DAMAGED}) == '{"s": "damaged"}'
    assert f"{BuildState.SUCCEEDED}" == "succeeded"


def test_a_status_carries_the_plain_string_of_its_state():
    st = Status("x/d=1", LIVE)
    assert type(st.state) is str and st.state == PartitionState.LIVE
