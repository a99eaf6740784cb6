"""Secrets by name, for code below the entry points.

Whatever needs a secret takes a resolver (``SecretResolver``: a name in, the value or None
out) from its caller. The default, :func:`env_secret`, looks in the environment, then in the
KEY=VALUE file that ``DATABUILD_SECRETS_FILE`` names (kept outside the repository);
``settings.secret`` is this lookup. Never log a value.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path

SecretResolver = Callable[[str], "str | None"]

# A catalog password kept out of URLs that Dagster stores (build --dagster sets it for its runs)
CATALOG_PASSWORD_ENV = "DATABUILD_CATALOG_PASSWORD"

log = logging.getLogger(__name__)


def env_secret(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """``name`` from ``env`` (default: the process environment), else from the secrets file."""
    env = os.environ if env is None else env
    if name in env:
        return env[name]
    path = env.get("DATABUILD_SECRETS_FILE")
    if path and Path(path).is_file():
        _warn_if_shared(Path(path))
        for line in Path(path).read_text().splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and key.strip() == name and not key.startswith("#"):
                return value.strip()
    return None


_WARNED: set[str] = set()


def _warn_if_shared(path: Path) -> None:
    """Once per file: say so when group or others may read the secrets file."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077 and str(path) not in _WARNED:
        _WARNED.add(str(path))
        log.warning("secrets file %s is readable by group or others (mode %o); run: chmod 600 %s",
                    path, mode, path)
