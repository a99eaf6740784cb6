"""Command-line ref sugar: ``date=2024-01-01..2024-01-14`` ranges and ``{a,b}`` choices.

The size of an expansion is computed before anything is expanded, so a typo like
``date=0001-01-01..9999-12-31`` is a clear error, not gigabytes of refs.
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re

from .core.errors import RefError
from .core.refs import check_ref, date_range

MAX_REFS = 100_000  # default cap on the refs one request expands to (--max-refs)
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
_CHOICE = re.compile(r"^\{([^{}]+)\}$")


def _days(spec: str, value: str, m: re.Match) -> int:
    try:
        d0, d1 = dt.date.fromisoformat(m.group(1)), dt.date.fromisoformat(m.group(2))
    except ValueError:
        raise RefError(f"bad date range {value!r} in {spec!r}: use YYYY-MM-DD..YYYY-MM-DD "
                       "with real dates") from None
    if d1 < d0:
        raise RefError(f"date range {value!r} in {spec!r} ends before it starts")
    return (d1 - d0).days + 1


def _too_many(spec: str, count: int, limit: int) -> RefError:
    return RefError(f"{spec!r} expands to {count:,} refs, more than the limit of {limit:,}; "
                    "narrow the range, or raise the limit with --max-refs N")


def count(spec: str) -> int:
    """How many refs ``spec`` expands to, without expanding it."""
    check_ref(spec)
    sizes = []
    for seg in spec.split("/"):
        _key, eq, value = seg.partition("=")
        if eq and (m := _RANGE.match(value)):
            sizes.append(_days(spec, value, m))
        elif eq and (m := _CHOICE.match(value)):
            sizes.append(len(m.group(1).split(",")))
    return math.prod(sizes)


def expand(spec: str, limit: int | None = MAX_REFS) -> list[str]:
    n = count(spec)
    if limit is not None and n > limit:
        raise _too_many(spec, n, limit)
    options: list[list[str]] = []
    for seg in spec.split("/"):
        key, eq, value = seg.partition("=")
        if eq and (m := _RANGE.match(value)):
            options.append([f"{key}={d}" for d in date_range(m.group(1), m.group(2))])
        elif eq and (m := _CHOICE.match(value)):
            options.append([f"{key}={v.strip()}" for v in m.group(1).split(",")])
        else:
            options.append([seg])
    return ["/".join(parts) for parts in itertools.product(*options)]


def expand_all(specs, limit: int | None = MAX_REFS) -> list[str]:
    """Every spec expanded, duplicates removed; the total is capped at ``limit``."""
    if isinstance(specs, (str, bytes)):
        specs = [specs]
    total = 0
    for s in specs:
        total += count(s)
        if limit is not None and total > limit:
            raise _too_many(" ".join(map(str, specs))[:200], total, limit)
    out: list[str] = []
    for s in specs:
        out += expand(s, None)
    return list(dict.fromkeys(out))
