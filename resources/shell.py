"""Processes without a shell: argv lists, allowed working directories, redacted output."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from databuild_assets.core.errors import ConfigError


@dataclass
class ProcessOutcome:
    args: list[str]
    returncode: int
    output: str  # already redacted

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def redact(text: str, secrets: Iterable[str]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


def check_cwd(cwd: str | None, allowed: Iterable[Path]) -> Path | None:
    if cwd is None:
        return None
    path = Path(cwd).resolve()
    allowed = [Path(a).resolve() for a in allowed]
    if not any(path == a or a in path.parents for a in allowed):
        raise ConfigError(f"working directory {path} is not allowed; allowed: "
                          f"{', '.join(str(a) for a in allowed) or 'none configured'}")
    return path


def run(args: list[str], *, cwd: Path | None = None, env: dict | None = None,
        timeout: float = 3600, secrets: Iterable[str] = (), log=None) -> ProcessOutcome:
    """Run argv (never through a shell); every line of output is redacted before logging."""
    if not args or not all(isinstance(a, str) for a in args):
        raise ConfigError("a shell task needs 'args', a list of strings (no shell is used)")
    secrets = [s for s in secrets if s]
    full_env = {**os.environ, **(env or {})}
    try:
        proc = subprocess.run(args, cwd=cwd, env=full_env, capture_output=True, text=True,
                              timeout=timeout)
        out = redact((proc.stdout or "") + (proc.stderr or ""), secrets)
        code = proc.returncode
    except FileNotFoundError:
        out, code = f"program not found: {args[0]}", 127
    except subprocess.TimeoutExpired:
        out, code = f"timed out after {timeout:.0f}s", 124
    if log:
        for line in out.splitlines()[-200:]:
            log.info(line)
    return ProcessOutcome([redact(a, secrets) for a in args], code, out)
