"""Pluggable notifiers for SLA breaches and permanent failures: log, webhook, both.

Notifications are stored in the catalog first (with a dedupe key, so each is created once)
and delivered afterwards; a failed delivery is retried on later ticks, a delivered one is
never sent again. Payloads never carry secrets: error texts are redacted and the webhook
URL (which often embeds a token) is never logged.
"""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request

from databuild_assets.core.secrets import env_secret

log = logging.getLogger(__name__)

_URL_CREDS = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+):[^@\s/]+@", re.I)
_KEY_VALUE = re.compile(r"(?i)\b(password|passwd|pwd|token|secret|api[_-]?key|access[_-]?key|"
                        r"authorization|credentials?)(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|\S+)")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}")


def redact(text: str | None, limit: int = 1000) -> str:
    """Error text safe to send anywhere: credentials in URLs and key=value secrets masked."""
    t = _URL_CREDS.sub(r"\1:***@", text or "")
    t = _BEARER.sub(r"\1 ***", t)
    t = _KEY_VALUE.sub(r"\1\2***", t)
    return t if len(t) <= limit else t[: limit - 3] + "..."


class Notifier:
    """Deliver one notification; raise if it could not be delivered (it will be retried)."""

    def send(self, kind: str, payload: dict) -> None:
        raise NotImplementedError


class LogNotifier(Notifier):
    def __init__(self, logger: logging.Logger | None = None):
        self.logger = logger or log

    def send(self, kind: str, payload: dict) -> None:
        self.logger.warning("databuild %s: %s", kind, json.dumps(payload, sort_keys=True,
                                                                 default=str))


class WebhookNotifier(Notifier):
    """POST ``{"kind": ..., **payload}`` as JSON; any 2xx is a delivery."""

    def __init__(self, url: str, timeout: float = 5.0, headers: dict[str, str] | None = None):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("webhook URL must be http(s)://host/...")
        self.url = url
        self.timeout = timeout
        self.headers = {"content-type": "application/json", "user-agent": "databuild",
                        **(headers or {})}

    @property
    def target(self) -> str:
        """Scheme and host only: safe to log."""
        p = urllib.parse.urlsplit(self.url)
        return f"{p.scheme}://{p.hostname}{':' + str(p.port) if p.port else ''}/..."

    def send(self, kind: str, payload: dict) -> None:
        body = json.dumps({"kind": kind, **payload}, default=str).encode()
        req = urllib.request.Request(self.url, data=body, headers=self.headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                if not 200 <= resp.status < 300:
                    raise RuntimeError(f"webhook {self.target} answered HTTP {resp.status}")
        except urllib.error.HTTPError as e:
            raise RuntimeError(f"webhook {self.target} answered HTTP {e.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise RuntimeError(f"webhook {self.target} unreachable: {reason}") from None

    def __repr__(self) -> str:
        return f"WebhookNotifier({self.target})"


class MultiNotifier(Notifier):
    def __init__(self, *notifiers: Notifier):
        self.notifiers = [n for n in notifiers if n is not None]

    def send(self, kind: str, payload: dict) -> None:
        errors = []
        for n in self.notifiers:
            try:
                n.send(kind, payload)
            except Exception as e:  # noqa: BLE001 - one failing channel must not stop others
                errors.append(str(e))
        if errors:
            raise RuntimeError("; ".join(errors))


WEBHOOK_URL_SECRET = "DATABUILD_WEBHOOK_URL"  # a secret: webhook URLs often embed a token


def notifier_for(webhook_url: str | None) -> Notifier:
    """Log always; plus the webhook at ``webhook_url`` when there is one."""
    if webhook_url:
        return MultiNotifier(LogNotifier(), WebhookNotifier(webhook_url))
    return LogNotifier()


def notifier_from_settings(env: dict[str, str] | None = None) -> Notifier:
    """The notifier when the entry point passes none (``definitions.py`` passes one built
    from the settings): the webhook URL looked up like any secret (``core.secrets``)."""
    return notifier_for(env_secret(WEBHOOK_URL_SECRET, env) or None)


def deliver_pending(catalog, notifier: Notifier, max_attempts: int = 5) -> int:
    """Send stored notifications not delivered yet; returns how many were delivered."""
    from databuild_assets.core.wants import mark_delivery, notifications

    sent = 0
    for n in notifications(catalog, undelivered=True, max_attempts=max_attempts):
        try:
            notifier.send(n.kind, n.payload)
        except Exception as e:  # noqa: BLE001 - recorded, retried on a later tick
            log.warning("could not deliver notification %s (%s): %s", n.id, n.kind, e)
            mark_delivery(catalog, n.id, False, redact(str(e)))
            continue
        mark_delivery(catalog, n.id, True)
        sent += 1
    return sent
