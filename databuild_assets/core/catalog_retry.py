"""Catalog resilience: retry a transaction whose connection was lost, and turn database
failures a user can act on (damaged, locked or full SQLite file; an unreachable server)
into a ``CatalogError`` that says what to do.

Every public catalog method is one transaction (or read-only), so re-running it after the
server dropped the connection mid-way is safe: the aborted transaction left nothing. The
one exception is a connection lost after the server committed but before the client heard
back: a method whose re-run would then collide with its own rows asks ``retrying()`` to
tell that apart from a genuine conflict (``Catalog.commit_many`` does).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import time

import sqlalchemy as sa

from .errors import CatalogError

log = logging.getLogger(__name__)
RETRIES = 5
_LOST = ("terminating connection", "server closed the connection", "connection already closed",
         "could not receive data", "could not send data", "connection reset",
         "ssl connection has been closed", "connection refused", "the database system is",
         "could not connect")
_RETRYING = contextvars.ContextVar("databuild_catalog_retrying", default=False)


def retrying() -> bool:
    """True inside a re-run after a lost connection (an earlier attempt may have committed)."""
    return _RETRYING.get()


def _lost(e: sa.exc.DBAPIError) -> bool:
    if getattr(e, "connection_invalidated", False):
        return True
    text = str(getattr(e, "orig", e)).lower()
    return isinstance(e, (sa.exc.OperationalError, sa.exc.InterfaceError)) and any(
        t in text for t in _LOST)


def translate(catalog, e: sa.exc.DBAPIError) -> CatalogError | None:
    """A CatalogError for failures the user must fix; None for the rest (bugs, integrity)."""
    text = " ".join(str(getattr(e, "orig", e)).split())
    low = text.lower()
    url = getattr(catalog, "url", "?")
    if "file is not a database" in low or "malformed" in low or "not a database" in low:
        return CatalogError(
            f"the SQLite catalog {url} is damaged ({text}); restore it from a backup, or move "
            "the file aside to start a new, empty catalog (build history and manifests are "
            "lost; partition data stays on disk and is rebuilt or re-registered)")
    if "database is locked" in low or "database table is locked" in low:
        return CatalogError(
            f"the SQLite catalog {url} stayed locked by another process ({text}); wait for "
            "the other databuild command to finish (or stop it) and retry; use a PostgreSQL "
            "catalog for many concurrent builds")
    if "disk is full" in low or "database or disk is full" in low or "no space" in low:
        return CatalogError(
            f"the catalog {url} cannot grow: the disk is full ({text}); free space on the "
            "catalog's disk and retry (nothing of the failed step was recorded)")
    if "readonly database" in low or "unable to open database" in low:
        return CatalogError(
            f"the SQLite catalog {url} cannot be written ({text}); check the file's and its "
            "folder's permissions, or point DATABUILD_CATALOG_URL elsewhere")
    if _lost(e):
        return CatalogError(
            f"lost the connection to the catalog {url} {RETRIES + 1} times in a row ({text}); "
            "check that the database server runs and is reachable, then retry")
    return None


def resilient(fn):
    """Retry the wrapped catalog method on connection loss; translate what a user can fix."""

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        for attempt in range(RETRIES + 1):
            token = _RETRYING.set(True) if attempt else None
            try:
                return fn(self, *args, **kwargs)
            except sa.exc.DBAPIError as e:
                if _lost(e) and attempt < RETRIES:
                    log.warning("catalog connection lost in %s (%s); retrying", fn.__name__,
                                " ".join(str(getattr(e, "orig", e)).split())[:200])
                    time.sleep(min(0.05 * 2 ** attempt, 2.0))
                    continue
                err = translate(self, e)
                if err is None:
                    raise
                raise err from None
            finally:
                if token is not None:
                    _RETRYING.reset(token)
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper
