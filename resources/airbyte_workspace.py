"""The clients of server and Cloud modes, built from a connection with its credentials
resolved (client id and secret, or username and password, from the variables it names).

Its own module because two callers need them apart from running jobs: ``airbyte_server``
(the run loop) and ``airbyte.build_workspace`` (dagster-airbyte's workspace resource for
asset specs and lineage)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping

from .airbyte_client import DatabuildAirbyteClient
from .airbyte_config import secret_value
from .airbyte_model import AirbyteConnection


class MissingCredential(Exception):
    """A credential variable the connection names is not set (a config error, not a fault)."""


def credentials(conn: AirbyteConnection, env: Mapping[str, str] | None) -> dict[str, str | None]:
    """The connection's credentials by client field, resolved from the variables it names."""
    creds: dict[str, str | None] = {}
    for field, key in (("client_id", "client_id_env"), ("client_secret", "client_secret_env"),
                       ("username", "username_env"), ("password", "password_env")):
        var = getattr(conn, key)
        if not var:
            creds[field] = None
            continue
        value = secret_value(var, env)
        if value is None:
            raise MissingCredential(
                f"{key} names {var!r}, which is not set: export it or put it in "
                "DATABUILD_SECRETS_FILE")
        creds[field] = value
    return creds


def build_workspace(conn: AirbyteConnection, env: Mapping[str, str] | None = None):
    """dagster-airbyte's AirbyteWorkspace (server) or AirbyteCloudWorkspace (cloud)."""
    from dagster_airbyte import AirbyteCloudWorkspace, AirbyteWorkspace

    creds = credentials(conn, env)
    common = dict(workspace_id=conn.workspace_id, request_max_retries=conn.request_max_retries,
                  request_retry_delay=conn.request_retry_delay,
                  request_timeout=conn.request_timeout, poll_interval=conn.poll_interval)
    with warnings.catch_warnings():  # dagster-airbyte marks these as beta
        warnings.simplefilter("ignore")
        if conn.mode == "cloud":
            return AirbyteCloudWorkspace(client_id=creds["client_id"],
                                         client_secret=creds["client_secret"], **common)
        return AirbyteWorkspace(rest_api_base_url=conn.rest_api_base_url,
                                configuration_api_base_url=conn.configuration_api_base_url,
                                **{k: v for k, v in creds.items() if v is not None}, **common)


def make_client(conn: AirbyteConnection, env: Mapping[str, str] | None = None
                ) -> DatabuildAirbyteClient:
    creds = credentials(conn, env)
    with warnings.catch_warnings():  # dagster-airbyte marks its client as beta
        warnings.simplefilter("ignore")
        return DatabuildAirbyteClient(
            rest_api_base_url=conn.rest_api_base_url,
            configuration_api_base_url=conn.configuration_api_base_url,
            workspace_id=conn.workspace_id, request_max_retries=conn.request_max_retries,
            request_retry_delay=conn.request_retry_delay, request_timeout=conn.request_timeout,
            poll_interval=conn.poll_interval, **creds)
