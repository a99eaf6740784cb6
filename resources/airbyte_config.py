"""Validation of `connections:` entries and run-time resolution of ``${ENV_NAME}`` references.
One ConfigError per problem, naming the connection, the key and what to write instead."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from databuild_assets.core.errors import ConfigError
from databuild_assets.core.names import safe_name
from databuild_assets.core.secrets import env_secret

MODES = ("embedded", "server", "cloud")
WRITE_STRATEGIES = ("auto", "append", "merge", "replace")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REF = re.compile(r"\$\{([^}]*)\}")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# config keys whose literal values would be secrets in the file
_SECRET_KEY = re.compile(r"(^|_)(password|passwd|secret|token|api_?key|private_?key|access_?key)$",
                         re.IGNORECASE)

_TUNING = {"poll_interval", "request_max_retries", "request_retry_delay", "request_timeout",
           "clear_job_type"}
_KEYS = {
    "embedded": {"mode", "source", "pip_url", "config", "streams", "schema", "write_strategy",
                 "full_refresh"},
    "server": {"mode", "rest_api_base_url", "configuration_api_base_url", "host", "port", "scheme",
               "workspace_id", "connection_id", "client_id_env", "client_secret_env",
               "username_env", "password_env"} | _TUNING,
    "cloud": {"mode", "workspace_id", "connection_id", "client_id_env", "client_secret_env"}
    | _TUNING,
}
_LITERAL_SECRETS = {"client_secret": "client_secret_env", "password": "password_env",
                    "token": "client_secret_env", "api_key": "client_secret_env"}
_FROM_ENV = {"client_id": "client_id_env", "username": "username_env"}


def _err(name: str, msg: str) -> ConfigError:
    return ConfigError(f"connection {name!r}: {msg}")


def parse_connection(name: str, d: Any, base_dir=None) -> dict[str, Any]:
    """Keyword arguments for AirbyteConnection (besides name) from one `connections:` entry."""
    del base_dir  # paths inside a connector config are the connector's business
    if not isinstance(name, str) or not name:
        raise ConfigError("a connection needs a non-empty name")
    if not isinstance(d, Mapping):
        raise _err(name, f"must be a mapping of settings, got {type(d).__name__}")
    mode = d.get("mode")
    if mode is None:
        server_keys = {"rest_api_base_url", "configuration_api_base_url", "host"} & set(d)
        mode = "server" if server_keys else "embedded"
    if mode not in MODES:
        raise _err(name, f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    for key, instead in _LITERAL_SECRETS.items():
        if key in d and mode != "embedded":
            raise _err(name, f"never put {key!r} in the file; set '{instead}: SOME_ENV_VAR' and "
                             "export that variable (or put it in DATABUILD_SECRETS_FILE)")
    for key, instead in _FROM_ENV.items():
        if key in d and mode != "embedded":
            raise _err(name, f"{key!r} is read from the environment: set '{instead}: SOME_ENV_VAR'")
    unknown = sorted(set(d) - _KEYS[mode])
    if unknown:
        key = unknown[0]
        modes = [m for m in MODES if key in _KEYS[m]]
        if modes:
            raise _err(name, f"{key!r} is a {'/'.join(modes)} setting but this connection is "
                             f"{mode}" + (" (no 'host' or 'rest_api_base_url' given)"
                                          if mode == "embedded" else "")
                             + f"; set 'mode: {modes[0]}' or remove {key!r}")
        every = sorted(set().union(*_KEYS.values()))
        close = difflib.get_close_matches(key, every, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise _err(name, f"unknown key {key!r}{hint} "
                         f"(allowed for mode {mode}: {', '.join(sorted(_KEYS[mode]))})")
    out: dict[str, Any] = {"mode": mode}
    if mode == "embedded":
        out.update(_embedded(name, d))
    else:
        out.update(_remote(name, d, mode))
    return out


def _str(name: str, d: Mapping, key: str, required: bool = False) -> str:
    v = d.get(key)
    if v is None or v == "":
        if required:
            raise _err(name, f"needs {key!r}")
        return ""
    if not isinstance(v, str | int) or isinstance(v, bool):
        raise _err(name, f"{key!r} must be a string, got {type(v).__name__}")
    return str(v)


def _embedded(name: str, d: Mapping) -> dict[str, Any]:
    source = _str(name, d, "source", required=True)
    if not source.startswith("source-"):
        raise _err(name, f"'source' must be a connector name like 'source-file', got {source!r}")
    pip_url = _str(name, d, "pip_url")
    if not pip_url:
        raise _err(name, f"needs 'pip_url' (the PyPI package of the connector, e.g. "
                         f"'airbyte-{source}'); connectors are installed from PyPI into their "
                         "own virtualenv on first use")
    config = d.get("config", {})
    if not isinstance(config, Mapping):
        raise _err(name, f"'config' must be a mapping (the connector's config), "
                         f"got {type(config).__name__}")
    _check_config(name, config, "config")
    streams = d.get("streams", "*")
    if streams != "*":
        if isinstance(streams, str) or not isinstance(streams, list) or not streams:
            raise _err(name, "'streams' must be \"*\" (all) or a non-empty list of stream names")
        if not all(isinstance(s, str) and s for s in streams):
            raise _err(name, "'streams' entries must be non-empty strings")
        dupes = sorted({s for s in streams if streams.count(s) > 1})
        if dupes:
            raise _err(name, f"'streams' lists {dupes[0]!r} twice")
        streams = tuple(streams)
    schema = _str(name, d, "schema") or "airbyte_" + safe_name(name).lower()
    if not _IDENT.match(schema):
        raise _err(name, f"'schema' must be a plain SQL identifier (letters, digits, _), "
                         f"got {schema!r}")
    strategy = d.get("write_strategy", "auto")
    if strategy not in WRITE_STRATEGIES:
        raise _err(name, f"'write_strategy' must be one of {', '.join(WRITE_STRATEGIES)}, "
                         f"got {strategy!r}")
    full_refresh = d.get("full_refresh", False)
    if not isinstance(full_refresh, bool):
        raise _err(name, "'full_refresh' must be true or false")
    if strategy == "replace" and not full_refresh:
        raise _err(name, "write_strategy 'replace' needs 'full_refresh: true' (PyAirbyte can only "
                         "replace tables on a full refresh)")
    return {"source": source, "pip_url": pip_url, "config": dict(config), "streams": streams,
            "schema": schema, "write_strategy": strategy, "full_refresh": full_refresh}


def _check_config(name: str, value: Any, path: str) -> None:
    """References must be well formed; secret-looking keys must be references."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise _err(name, f"{path} has a non-string key {k!r}")
            if _SECRET_KEY.search(k) and isinstance(v, str) and v and not _REF.search(v):
                raise _err(name, f"{path}.{k} looks like a secret written in the file; write "
                                 f"'${{SOME_ENV_VAR}}' instead and export that variable")
            _check_config(name, v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_config(name, v, f"{path}[{i}]")
    elif isinstance(value, str):
        for ref in _REF.findall(value):
            if not _ENV_NAME.match(ref):
                raise _err(name, f"{path}: '${{{ref}}}' is not a valid environment variable "
                                 "reference (letters, digits and _ only)")


def _url(name: str, key: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _err(name, f"{key!r} must be an http(s) URL like http://localhost:8000/api/public/v1,"
                         f" got {url!r}")
    if parts.username or parts.password:
        raise _err(name, f"{key!r} must not carry credentials; use client_id_env/"
                         "client_secret_env or username_env/password_env")
    return url.rstrip("/")


def _env_name(name: str, d: Mapping, key: str) -> str:
    v = _str(name, d, key)
    if v and not _ENV_NAME.match(v):
        raise _err(name, f"{key!r} must name an environment variable (e.g. AIRBYTE_CLIENT_SECRET),"
                         f" got {v!r}")
    return v


def _number(name: str, d: Mapping, key: str, default, kind, minimum, strict: bool):
    v = d.get(key, default)
    if isinstance(v, bool) or not isinstance(v, int | float) or (kind is int and v != int(v)):
        raise _err(name, f"{key!r} must be a{'n integer' if kind is int else ' number'}, got {v!r}")
    if v < minimum or (strict and v == minimum):
        raise _err(name, f"{key!r} must be {'>' if strict else '>='} {minimum}, got {v!r}")
    return kind(v)


def _remote(name: str, d: Mapping, mode: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in ("workspace_id", "connection_id"):
        out[key] = _str(name, d, key, required=True)
    if mode == "server":
        rest, conf, host = (_str(name, d, k) for k in
                            ("rest_api_base_url", "configuration_api_base_url", "host"))
        if host and (rest or conf):
            raise _err(name, "give either 'host' (and 'port') or 'rest_api_base_url' and "
                             "'configuration_api_base_url', not both")
        if host:
            scheme = d.get("scheme", "http")
            if scheme not in ("http", "https"):
                raise _err(name, f"'scheme' must be http or https, got {scheme!r}")
            port = _number(name, d, "port", 8000, int, 1, False)
            if port > 65535:
                raise _err(name, f"'port' must be <= 65535, got {port}")
            base = _url(name, "host", f"{scheme}://{host}:{port}")
            rest, conf = f"{base}/api/public/v1", f"{base}/api/v1"
        elif not (rest and conf):
            missing = "configuration_api_base_url" if rest else "rest_api_base_url"
            raise _err(name, f"a server connection needs 'host' (and 'port') or both "
                             f"'rest_api_base_url' and 'configuration_api_base_url'; "
                             f"{missing!r} is missing")
        elif "port" in d or "scheme" in d:
            raise _err(name, "'port'/'scheme' only go with 'host'")
        out["rest_api_base_url"] = _url(name, "rest_api_base_url", rest)
        out["configuration_api_base_url"] = _url(name, "configuration_api_base_url", conf)
    else:
        from dagster_airbyte.resources import (
            AIRBYTE_CLOUD_CONFIGURATION_API_BASE_URL,
            AIRBYTE_CLOUD_REST_API_BASE_URL,
        )

        out["rest_api_base_url"] = AIRBYTE_CLOUD_REST_API_BASE_URL
        out["configuration_api_base_url"] = AIRBYTE_CLOUD_CONFIGURATION_API_BASE_URL
    for key in ("client_id_env", "client_secret_env", "username_env", "password_env"):
        out[key] = _env_name(name, d, key)
    oauth = bool(out["client_id_env"]) + bool(out["client_secret_env"])
    basic = bool(out["username_env"]) + bool(out["password_env"])
    if oauth == 1:
        raise _err(name, "'client_id_env' and 'client_secret_env' go together; set both")
    if basic == 1:
        raise _err(name, "'username_env' and 'password_env' go together; set both")
    if oauth and basic:
        raise _err(name, "use either client_id_env/client_secret_env or "
                         "username_env/password_env, not both")
    if mode == "cloud" and not oauth:
        raise _err(name, "Airbyte Cloud needs 'client_id_env' and 'client_secret_env'")
    out["poll_interval"] = _number(name, d, "poll_interval", 5.0, float, 0, True)
    out["request_max_retries"] = _number(name, d, "request_max_retries", 3, int, 0, False)
    out["request_retry_delay"] = _number(name, d, "request_retry_delay", 1.0, float, 0, False)
    out["request_timeout"] = _number(name, d, "request_timeout", 15, int, 0, True)
    job_type = d.get("clear_job_type", "clear")
    if job_type not in ("clear", "reset"):
        raise _err(name, f"'clear_job_type' must be 'clear' (Airbyte >= 1.0) or 'reset', "
                         f"got {job_type!r}")
    out["clear_job_type"] = job_type
    return out


class MissingSecret(Exception):
    def __init__(self, names: list[str]):
        self.names = names
        super().__init__(", ".join(names))


def resolve_refs(value: Any, env: Mapping[str, str] | None = None) -> tuple[Any, list[str]]:
    """Replace ``${NAME}`` references with secrets (``core.secrets.env_secret`` over ``env``).
    Returns the resolved value and the list of substituted values (for redaction); raises
    MissingSecret naming every unset variable."""
    env_d = dict(env) if env is not None else None
    found: list[str] = []
    missing: list[str] = []

    def sub(m: re.Match) -> str:
        v = env_secret(m.group(1), env_d)
        if v is None:
            missing.append(m.group(1))
            return ""
        found.append(v)
        return v

    def walk(v: Any) -> Any:
        if isinstance(v, Mapping):
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        if isinstance(v, str) and "${" in v:
            return _REF.sub(sub, v)
        return v

    resolved = walk(value)
    if missing:
        raise MissingSecret(sorted(set(missing)))
    return resolved, found


def secret_value(name: str, env: Mapping[str, str] | None = None) -> str | None:
    return env_secret(name, dict(env) if env is not None else None) if name else None
