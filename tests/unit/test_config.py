import pytest

from databuild_assets.core import ConfigError, DataDep, DepType, JobConfig
from databuild_assets.core.manifest import redact_env


def test_the_config_hash_is_canonical_whatever_the_order_of_sets_and_env():
    a = JobConfig(outputs=["x/d=1", "x/d=2"], inputs=[DataDep(DepType.QUERY, "q/d=1"),
                  DataDep(DepType.MATERIALIZE, "m/d=1")], env={"B": "2", "A": "1"}, job="j")
    b = JobConfig(outputs=["x/d=2", "x/d=1"], inputs=[DataDep("materialize", "m/d=1"),
                  DataDep("query", "q/d=1")], env={"A": "1", "B": "2"}, job="j")
    assert a.hash == b.hash and a == b
    assert a.hash != JobConfig(outputs=["x/d=1", "x/d=2"], job="j").hash


def test_configs_round_trip_through_the_json_protocol():
    a = JobConfig(outputs=["x/d=1"], inputs=[DataDep(DepType.MATERIALIZE, "m/d=1")],
                  args=["--full"], env={"K": "v"}, job="j")
    assert JobConfig.from_json(a.to_json()) == a
    assert a.materialize_inputs == ["m/d=1"] and a.query_inputs == []


def test_bad_configs_say_what_is_wrong():
    with pytest.raises(ConfigError, match="no outputs"):
        JobConfig(outputs=[], job="j")
    with pytest.raises(ConfigError, match="unknown dep_type"):
        DataDep("sometimes", "m/d=1")
    with pytest.raises(ConfigError, match="'outputs'"):
        JobConfig.from_json({"inputs": []})


def test_secret_looking_env_values_are_redacted_in_manifests():
    assert redact_env({"API_TOKEN": "s3cr3t", "MODE": "fast", "DB_PASSWORD": "x"}) == {
        "API_TOKEN": "***", "MODE": "fast", "DB_PASSWORD": "***"}
