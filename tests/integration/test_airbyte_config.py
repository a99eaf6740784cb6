"""`connections:` entries: one clear ConfigError per problem; secrets only by reference."""

from __future__ import annotations

import pytest

from databuild_assets.core.errors import ConfigError
from resources.airbyte import AirbyteConnection, SyncOutcome, redact
from resources.airbyte_config import MissingSecret, resolve_refs

EMBEDDED = {"source": "source-file", "pip_url": "airbyte-source-file",
            "config": {"dataset_name": "orders", "format": "jsonl", "url": "/data/orders.jsonl",
                       "provider": {"storage": "local"}}}
SERVER = {"host": "airbyte.internal", "port": 8000, "workspace_id": "ws", "connection_id": "c-1",
          "client_id_env": "AB_ID", "client_secret_env": "AB_SECRET"}


def test_embedded_is_the_default_when_no_server_is_configured():
    conn = AirbyteConnection.from_dict("orders", EMBEDDED)
    assert conn.mode == "embedded"
    assert conn.schema == "airbyte_orders" and conn.streams == "*"
    assert conn.write_strategy == "auto"


def test_a_host_and_port_make_a_server_connection_with_both_api_urls():
    conn = AirbyteConnection.from_dict("orders", SERVER)
    assert conn.mode == "server"
    assert conn.rest_api_base_url == "http://airbyte.internal:8000/api/public/v1"
    assert conn.configuration_api_base_url == "http://airbyte.internal:8000/api/v1"
    assert conn.host == "airbyte.internal:8000"


def test_a_cloud_connection_uses_airbyte_clouds_urls():
    conn = AirbyteConnection.from_dict("orders", {
        "mode": "cloud", "workspace_id": "ws", "connection_id": "c",
        "client_id_env": "AB_ID", "client_secret_env": "AB_SECRET"})
    assert conn.rest_api_base_url.startswith("https://api.airbyte.com")


@pytest.mark.parametrize("entry, fragment", [
    ("not a mapping", "must be a mapping"),
    ({**EMBEDDED, "mode": "docker"}, "mode must be one of"),
    ({k: v for k, v in EMBEDDED.items() if k != "source"}, "needs 'source'"),
    ({**EMBEDDED, "source": "file"}, "connector name like 'source-file'"),
    ({k: v for k, v in EMBEDDED.items() if k != "pip_url"}, "needs 'pip_url'"),
    ({**EMBEDDED, "config": ["x"]}, "'config' must be a mapping"),
    ({**EMBEDDED, "streams": "orders"}, "'streams' must be"),
    ({**EMBEDDED, "streams": ["a", "a"]}, "lists 'a' twice"),
    ({**EMBEDDED, "schema": "raw data"}, "plain SQL identifier"),
    ({**EMBEDDED, "write_strategy": "upsert"}, "'write_strategy' must be one of"),
    ({**EMBEDDED, "write_strategy": "replace"}, "needs 'full_refresh: true'"),
    ({**EMBEDDED, "config": {"api_key": "abc123"}}, "config.api_key looks like a secret"),
    ({**EMBEDDED, "config": {"url": "${not-a-name}"}}, "not a valid environment variable"),
    ({**EMBEDDED, "conection_id": "x"}, "did you mean 'connection_id'?"),
    ({**EMBEDDED, "connection_id": "x"}, "'connection_id' is a server/cloud setting"),
    ({**SERVER, "client_secret": "s3cr3t"}, "never put 'client_secret' in the file"),
    ({**SERVER, "client_id": "abc"}, "read from the environment"),
    ({k: v for k, v in SERVER.items() if k != "connection_id"}, "needs 'connection_id'"),
    ({k: v for k, v in SERVER.items() if k != "workspace_id"}, "needs 'workspace_id'"),
    ({k: v for k, v in SERVER.items() if k != "client_secret_env"}, "go together"),
    ({**SERVER, "client_secret_env": "not a name"}, "must name an environment variable"),
    ({**SERVER, "rest_api_base_url": "http://x/api/public/v1"}, "not both"),
    ({**{k: v for k, v in SERVER.items() if k not in ("host", "port")},
      "rest_api_base_url": "http://x/api/public/v1"}, "'configuration_api_base_url' is missing"),
    ({**{k: v for k, v in SERVER.items() if k not in ("host", "port")},
      "rest_api_base_url": "ftp://x", "configuration_api_base_url": "http://x/api/v1"},
     "must be an http(s) URL"),
    ({**{k: v for k, v in SERVER.items() if k not in ("host", "port")},
      "rest_api_base_url": "http://u:pw@x/api/public/v1",
      "configuration_api_base_url": "http://x/api/v1"}, "must not carry credentials"),
    ({**SERVER, "port": 70000}, "'port' must be <= 65535"),
    ({**SERVER, "poll_interval": 0}, "'poll_interval' must be > 0"),
    ({**SERVER, "request_max_retries": -1}, "'request_max_retries' must be >= 0"),
    ({**SERVER, "request_max_retries": 1.5}, "must be an integer"),
    ({**SERVER, "clear_job_type": "wipe"}, "'clear_job_type' must be"),
    ({"mode": "cloud", "workspace_id": "w", "connection_id": "c"}, "Cloud needs 'client_id_env'"),
    ({"mode": "cloud", "host": "h", "workspace_id": "w", "connection_id": "c"}, "'host' is a server setting"),
])
def test_each_problem_in_a_connection_entry_is_one_clear_error(entry, fragment):
    with pytest.raises(ConfigError) as e:
        AirbyteConnection.from_dict("orders", entry)
    assert str(e.value).startswith("connection 'orders': ")
    assert fragment in str(e.value)


def test_secret_references_resolve_at_run_time_from_the_environment_or_the_secrets_file(tmp_path):
    secrets_file = tmp_path / "secrets.env"
    secrets_file.write_text("DB_PASSWORD=from-file-pw\n")
    env = {"API_TOKEN": "tok-abcdef", "DATABUILD_SECRETS_FILE": str(secrets_file)}
    resolved, found = resolve_refs({"auth": {"token": "${API_TOKEN}"},
                                    "dsn": "postgres://u:${DB_PASSWORD}@h/db", "n": 3}, env)
    assert resolved == {"auth": {"token": "tok-abcdef"}, "dsn": "postgres://u:from-file-pw@h/db",
                        "n": 3}
    assert sorted(found) == ["from-file-pw", "tok-abcdef"]
    with pytest.raises(MissingSecret) as e:
        resolve_refs({"a": "${NOPE_ONE}", "b": ["${NOPE_TWO}"]}, {})
    assert e.value.names == ["NOPE_ONE", "NOPE_TWO"]


def test_the_connection_description_and_outcome_metadata_hold_names_not_secrets(monkeypatch):
    monkeypatch.setenv("AB_SECRET", "very-secret-value")
    conn = AirbyteConnection.from_dict("orders", SERVER)
    assert "very-secret-value" not in repr(conn) + repr(conn.describe())
    assert conn.describe()["client_secret_env"] == "AB_SECRET"
    out = SyncOutcome("orders", "server", "sync", "succeeded", "ok", job_id=7, records=3,
                      streams=("a",))
    assert out.ok and out.to_metadata()["streams"] == ["a"]
    assert redact("token abcd1234 and abcd1234!", ["abcd1234", "ab"]) == "token *** and ***!"
