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


def test_secret_env_values_are_passed_at_run_time_but_never_in_the_stored_form_or_hash():
    from databuild_assets.core.redact import MASK

    a = JobConfig(outputs=["x/d=1"], env={"CONN_STRING": "abc123", "MODE": "fast"},
                  secret_env=["CONN_STRING"], job="j")
    b = JobConfig(outputs=["x/d=1"], env={"CONN_STRING": "rotated9", "MODE": "fast"},
                  secret_env=["CONN_STRING"], job="j")
    assert a.env["CONN_STRING"] == "abc123"  # what the job gets
    assert a.to_json()["env"] == {"CONN_STRING": MASK, "MODE": "fast"}
    assert a.to_json(reveal=True)["env"]["CONN_STRING"] == "abc123"
    assert "abc123" not in a.canonical_json()
    assert a.hash == b.hash  # a rotated secret does not make data stale
    plain = JobConfig(outputs=["x/d=1"], env={"CONN_STRING": MASK, "MODE": "fast"}, job="j")
    assert plain.hash != a.hash  # the hash covers which names are secret
    assert JobConfig.from_json(a.to_json(reveal=True)).env == a.env
    with pytest.raises(ConfigError, match="secret_env names"):
        JobConfig(outputs=["x/d=1"], env={}, secret_env=["NOPE"])


@pytest.mark.parametrize("text, secret", [
    ("postgresql://user:pa55word@db:5432/x", "pa55word"),
    ("see https://bot:tok-123@github.com/o/r.git", "tok-123"),
    ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\n-----END PRIVATE KEY-----", "MIIEvQIBADAN"),
    ("Authorization: Bearer eyJhbGciOi.xyz", "eyJhbGciOi.xyz"),
    ("curl -H 'AUTH: s3cr3tvalue'", "s3cr3tvalue"),
    ("host=db user=u password=hunter22 dbname=x", "hunter22"),
    ("token=abcd1234&x=1", "abcd1234"),
])
def test_secrets_are_recognised_by_their_shape_in_any_text(text, secret):
    from databuild_assets.core.redact import redact_text, secret_parts

    assert secret not in redact_text(text)
    assert secret in " ".join(secret_parts(text))


def test_secret_looking_names_are_masked_whatever_their_value():
    from databuild_assets.core.redact import is_secret_name, redact_env

    for name in ("DB_PASS", "PGPASSWORD", "API_TOKEN", "AWS_SECRET_ACCESS_KEY", "SSH_KEY",
                 "AUTH", "SENTRY_DSN", "GH_TOKEN"):
        assert is_secret_name(name), name
    for name in ("MODE", "PATH", "HOME", "DATE", "PASSENGER_COUNT"):
        assert not is_secret_name(name), name
    assert redact_env({"DB_PASS": "x1", "MODE": "fast"}) == {"DB_PASS": "***", "MODE": "fast"}


def test_a_catalog_url_password_is_split_off_and_put_back():
    from databuild_assets.core.redact import split_url_password, with_url_password

    url = "postgresql://loader:p%40ss@db:5432/cat"
    public, pw = split_url_password(url)
    assert public == "postgresql://loader@db:5432/cat" and pw == "p%40ss"
    assert with_url_password(public, pw) == url
    assert split_url_password("sqlite:////tmp/x.db") == ("sqlite:////tmp/x.db", None)
