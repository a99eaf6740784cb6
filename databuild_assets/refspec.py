"""Command-line ref sugar: ``date=2024-01-01..2024-01-14`` ranges and ``{a,b}`` choices."""

from __future__ import annotations

import itertools
import re

from .core.errors import RefError
from .core.refs import date_range

_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_CHOICE = re.compile(r"^\{([^{}]+)\}$")


def expand(spec: str) -> list[str]:
    options: list[list[str]] = []
    for seg in spec.split("/"):
        key, eq, value = seg.partition("=")
        if eq and (m := _RANGE.match(value)):
            try:
                days = date_range(m.group(1), m.group(2))
            except ValueError:
                raise RefError(f"bad date range {value!r} in {spec!r}") from None
            options.append([f"{key}={d}" for d in days])
        elif eq and (m := _CHOICE.match(value)):
            options.append([f"{key}={v.strip()}" for v in m.group(1).split(",")])
        else:
            options.append([seg])
    return ["/".join(parts) for parts in itertools.product(*options)]


def expand_all(specs) -> list[str]:
    out: list[str] = []
    for s in specs:
        out += expand(s)
    return list(dict.fromkeys(out))
