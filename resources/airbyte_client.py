"""dagster-airbyte's AirbyteClient with a retry policy that tells faults apart.

The stock ``AirbyteClient._single_request`` retries *every* request error (a 409 "already
running" or a 401 as well as a 503) ``request_max_retries`` times with a fixed
``request_retry_delay``, then raises ``Failure("Max retries ... exceeded")`` without the HTTP
status. Here only transient failures (connection errors, timeouts, 429 and 5xx) are retried,
with exponential backoff (``request_retry_delay`` doubling per retry, capped at 30 s, never
past the operation's deadline, interrupted by the cancel event); other statuses raise
:class:`AirbyteApiError` at once. Everything else (URLs, OAuth token refresh, payloads, job
parsing) is dagster-airbyte's own code.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from dagster_airbyte.resources import AirbyteClient
from pydantic import PrivateAttr

TRANSIENT_STATUSES = (429, 500, 502, 503, 504)
MAX_BACKOFF_S = 30.0


class AirbyteRequestError(Exception):
    def __init__(self, method: str, url: str, message: str):
        parts = urlsplit(url)
        self.method, self.host, self.path = method, parts.netloc, parts.path
        super().__init__(message)


class AirbyteApiError(AirbyteRequestError):
    """Airbyte answered with a non-transient error status (4xx)."""

    def __init__(self, method: str, url: str, status: int, detail: str):
        self.status, self.detail = status, detail
        super().__init__(method, url, f"Airbyte API {method} {urlsplit(url).path} answered "
                                      f"HTTP {status}" + (f": {detail}" if detail else ""))


class AirbyteTransientError(AirbyteRequestError):
    """A transient failure (5xx/429/connection problem) that outlasted the retries."""

    def __init__(self, method: str, url: str, what: str, retries: int, unreachable: bool):
        self.what, self.retries, self.unreachable = what, retries, unreachable
        super().__init__(method, url, f"Airbyte API {method} {urlsplit(url).path}: {what} "
                                      f"(after {retries} retr{'y' if retries == 1 else 'ies'})")


class AirbyteProtocolError(AirbyteTransientError):
    """Airbyte (or something in front of it) answered 2xx with a body that is not a JSON
    object, on every try. Retried like a transient fault: proxies and restarts do this."""


class Interrupted(Exception):
    """The cancel event was set while waiting to retry."""


def _reason(e: requests.RequestException, timeout: float) -> str:
    text = str(e)
    if isinstance(e, requests.Timeout):
        return f"no answer within {timeout:g} s"
    if "refused" in text.lower():
        return "connection refused"
    if any(s in text for s in ("Name or service not known", "nodename nor servname",
                               "getaddrinfo failed", "Temporary failure in name resolution")):
        return "host name does not resolve"
    return f"connection failed ({type(e).__name__})"


def _json(resp: requests.Response):
    if not resp.content:
        return {}
    try:
        return resp.json()
    except ValueError:
        return None


def _not_json(resp: requests.Response) -> str:
    kind = resp.headers.get("Content-Type", "no content type").split(";")[0]
    snippet = " ".join(resp.text.split())[:80]
    return f"HTTP {resp.status_code} with a body that is not JSON ({kind}: {snippet!r})"


def _detail(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:300]
    if isinstance(body, Mapping):
        parts = [str(body[k]) for k in ("title", "detail", "message") if body.get(k)]
        return "; ".join(parts)[:300]
    return str(body)[:300]


class DatabuildAirbyteClient(AirbyteClient):
    _deadline: float | None = PrivateAttr(default=None)
    _cancel_event: threading.Event | None = PrivateAttr(default=None)
    _on_retry: Callable[[str], None] | None = PrivateAttr(default=None)
    _on_token: Callable[[str], None] | None = PrivateAttr(default=None)
    _retries: int = PrivateAttr(default=0)
    _last_attempts: int = PrivateAttr(default=1)

    def configure_run(self, *, deadline: float | None, cancel_event: threading.Event | None,
                      on_retry: Callable[[str], None] | None,
                      on_token: Callable[[str], None] | None) -> DatabuildAirbyteClient:
        self._deadline, self._cancel_event = deadline, cancel_event
        self._on_retry, self._on_token = on_retry, on_token
        return self

    @property
    def retries(self) -> int:
        return self._retries

    @property
    def last_attempts(self) -> int:
        """How many tries the last request took."""
        return self._last_attempts

    def _single_request(self, method: str, url: str, data: Mapping[str, Any] | None = None,
                        params: Mapping[str, Any] | None = None,
                        include_additional_request_headers: bool = True) -> Mapping[str, Any]:
        attempt = 0
        while True:
            protocol = False
            session = self._get_session(
                include_additional_request_headers=include_additional_request_headers)
            if self._access_token_value and self._on_token:
                self._on_token(self._access_token_value)
            try:
                resp = session.request(method=method, url=url, json=data, params=params,
                                       timeout=self.request_timeout)
            except requests.RequestException as e:
                what, unreachable = _reason(e, self.request_timeout), True
            else:
                body = _json(resp) if resp.status_code < 400 else None
                if isinstance(body, Mapping):
                    self._last_attempts = attempt + 1
                    if method == "POST" and url.endswith("/applications/token") and self._on_token:
                        self._on_token(str(body.get("access_token", "")))
                    return body
                if resp.status_code < 400:  # 2xx that is not a JSON object: a proxy or UI page
                    what, unreachable, protocol = _not_json(resp), False, True
                elif resp.status_code not in TRANSIENT_STATUSES:
                    self._last_attempts = attempt + 1
                    raise AirbyteApiError(method, url, resp.status_code, _detail(resp))
                else:
                    what, unreachable = f"HTTP {resp.status_code}", False
            finally:
                session.close()
            delay = min(self.request_retry_delay * (2 ** attempt), MAX_BACKOFF_S)
            past_deadline = self._deadline is not None and time.monotonic() + delay > self._deadline
            if attempt >= self.request_max_retries or past_deadline:
                self._last_attempts = attempt + 1
                err = AirbyteProtocolError if protocol else AirbyteTransientError
                raise err(method, url, what, attempt, unreachable)
            attempt += 1
            self._retries += 1
            if self._on_retry:
                self._on_retry(f"Airbyte API {method} {urlsplit(url).path} at "
                               f"{urlsplit(url).netloc}: {what}; retry {attempt}/"
                               f"{self.request_max_retries} in {delay:.2g} s")
            if self._cancel_event is not None:
                if self._cancel_event.wait(delay):
                    raise Interrupted()
            else:
                time.sleep(delay)

    # the two calls dagster-airbyte has no method for
    def start_job(self, connection_id: str, job_type: str) -> Mapping[str, Any]:
        """Public API POST /jobs with any job type (sync, clear, reset)."""
        return self._single_request(method="POST", url=f"{self.rest_api_base_url}/jobs",
                                    data={"connectionId": connection_id, "jobType": job_type})

    def clear_streams(self, connection_id: str, streams: list[dict[str, str]]) -> Mapping[str, Any]:
        """Configuration API: clear (reset) chosen streams of a connection."""
        return self._single_request(
            method="POST", url=f"{self.configuration_api_base_url}/connections/reset/stream",
            data={"connectionId": connection_id, "streams": streams})
