"""Semantic versions of datasets and job code: what invalidates a built partition.

Both are semver (``MAJOR.MINOR.PATCH``, a ``v`` prefix allowed, default ``0.0.0``). A
minor or patch change never invalidates; any difference in major does, up or down (a
rollback is a change). A code version that is not semver is a plain string: any change
invalidates.
"""

from __future__ import annotations

import re

DEFAULT_VERSION = "0.0.0"
SEMVER = re.compile(r"^[vV]?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                    r"(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$")


def parse(version: str | None) -> tuple[int, int, int] | None:
    """(major, minor, patch), or None when ``version`` is not semver."""
    m = SEMVER.match(str(version or "").strip())
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def major_of(version: str | None) -> int | None:
    v = parse(version)
    return v[0] if v else None


def is_semver(version: str | None) -> bool:
    return parse(version) is not None


def invalidates(built: str | None, current: str | None) -> bool:
    """Whether a partition built at version ``built`` is stale under ``current``."""
    if built == current:
        return False
    a, b = parse(built), parse(current)
    if a is None or b is None:  # a plain string on either side: any change counts
        return str(built or "") != str(current or "")
    return a[0] != b[0]
