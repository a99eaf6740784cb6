"""Partition refs and the typed patterns that parse them.

A ref is a path-like string (``phrase_stats/category=comedy/date=2024-01-01``) that names
one atomic unit of data. Values must be safe as path segments because refs become folders
under the data root.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from . import versions
from .errors import DefinitionError, RefError

_SAFE_VALUE = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9_.+\-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_VALUE_LENGTH = 200  # a value is a folder name: stays well under NAME_MAX (255)
MAX_REF_LENGTH = 512  # the catalog's ref columns (the same limit on SQLite and PostgreSQL)
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_VALID_CACHE = 200_000  # distinct values remembered per dimension


def _shown(text: str, limit: int = 60) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def check_ref(ref: object) -> str:
    """Type, length and control characters of a whole ref, before any pattern matching."""
    if isinstance(ref, (bytes, bytearray)):
        raise RefError(f"ref {ref[:60]!r} is bytes; pass refs as text (decode them first)")
    if not isinstance(ref, str):
        raise RefError(f"a ref must be a string like 'reviews/date=2024-01-01', got "
                       f"{type(ref).__name__} {ref!r:.60}")
    if len(ref) > MAX_REF_LENGTH:
        raise RefError(f"ref {_shown(ref)} is {len(ref)} characters long; refs may be at "
                       f"most {MAX_REF_LENGTH} characters")
    if _CONTROL.search(ref):
        raise RefError(f"ref {_shown(ref)} contains a control character (newline, tab, ...); "
                       "refs are single-line text")
    return ref


def check_value(name: str, value: str) -> str:
    """Reject values that would escape or confuse the hive-style folder layout."""
    if not isinstance(value, str) or not value:
        raise RefError(f"dimension '{name}' needs a non-empty string value, got {value!r:.60}")
    if len(value) > MAX_VALUE_LENGTH:
        raise RefError(f"dimension '{name}' value {_shown(value)} is {len(value)} characters "
                       f"long; values may be at most {MAX_VALUE_LENGTH} characters")
    if value.startswith("-"):
        raise RefError(f"dimension '{name}' value {_shown(value)} starts with '-', which "
                       "programs read as an option; start it with a letter or digit")
    if ".." in value or not _SAFE_VALUE.fullmatch(value):
        raise RefError(
            f"dimension '{name}' value {_shown(value)} is not allowed: use letters, digits "
            "and '_', '-', '+', '.' only (no '/', '..', whitespace, control or other path "
            "characters)"
        )
    return value


@dataclass(frozen=True)
class Dim:
    """A free token dimension (the default for untyped placeholders)."""

    name: str
    kind: str = "token"

    def validate(self, value: str) -> str:
        return check_value(self.name, value)


@dataclass(frozen=True)
class DateDim(Dim):
    """An ISO date (YYYY-MM-DD); ``start`` bounds the Dagster daily partitions."""

    kind: str = "date"
    start: str = "2024-01-01"

    def validate(self, value: str) -> str:
        check_value(self.name, value)
        try:
            if len(value) != 10:
                raise ValueError
            dt.date.fromisoformat(value)
        except ValueError:
            raise RefError(
                f"dimension '{self.name}' expects a date like 2024-01-31, got {value!r}"
            ) from None
        return value


@dataclass(frozen=True)
class StaticDim(Dim):
    """One of a fixed set of values (categories, regions)."""

    kind: str = "static"
    values: tuple[str, ...] = ()

    def validate(self, value: str) -> str:
        check_value(self.name, value)
        if value not in self.values:
            raise RefError(
                f"dimension '{self.name}' must be one of {', '.join(self.values)}; "
                f"got {value!r}"
            )
        return value


def _make_dim(name: str, spec: object) -> Dim:
    if isinstance(spec, Dim):
        if spec.name != name:
            raise DefinitionError(f"dim spec for '{name}' is named '{spec.name}'")
        return spec
    if spec is None or spec == "token":
        return Dim(name)
    if spec == "date":
        return DateDim(name)
    if isinstance(spec, (list, tuple, set, frozenset)):
        values = tuple(spec)
        for v in values:
            check_value(name, v)
        return StaticDim(name, values=values)
    raise DefinitionError(
        f"dimension '{name}': unknown type {spec!r}; use 'date', 'token', a list of values "
        "or a Dim instance"
    )


class PartitionPattern:
    """A dataset's ref template with typed dimensions and a semantic dataset version."""

    def __init__(
        self,
        template: str,
        *,
        version: str = versions.DEFAULT_VERSION,
        dims: Mapping[str, object] | None = None,
    ):
        if not isinstance(version, str) or not versions.is_semver(version):
            raise DefinitionError(
                f"dataset version {version!r} of {template!r} is not semver: use "
                "MAJOR.MINOR.PATCH, e.g. 1.2.0 or v1.2.0"
            )
        segments = template.strip("/").split("/")
        if not segments or not segments[0] or "{" in segments[0]:
            raise DefinitionError(f"pattern {template!r} must start with a dataset name")
        names = _PLACEHOLDER.findall(template)
        if len(set(names)) != len(names):
            raise DefinitionError(f"pattern {template!r} repeats a dimension")
        unknown = set(dims or {}) - set(names)
        if unknown:
            raise DefinitionError(
                f"pattern {template!r} has no placeholder for dims {sorted(unknown)}"
            )
        literal_segs = []
        for seg in segments:
            if "{" in seg:
                break
            literal_segs.append(seg)
        self.template = template.strip("/")
        self.dataset = "/".join(literal_segs)
        self.version = version
        self.major = versions.major_of(version)
        self.dims: tuple[Dim, ...] = tuple(_make_dim(n, (dims or {}).get(n)) for n in names)
        self._dim_by_name = {d.name: d for d in self.dims}
        regex, pos = "", 0
        for m in _PLACEHOLDER.finditer(self.template):
            regex += re.escape(self.template[pos : m.start()]) + f"(?P<{m.group(1)}>[^/]+)"
            pos = m.end()
        regex += re.escape(self.template[pos:])
        self._regex = re.compile("^" + regex + "$")
        # format()'s template; the values each dim accepted (a value valid once stays valid)
        pieces = _PLACEHOLDER.split(self.template)[0::2]
        self._fmt = None if any("{" in p or "}" in p for p in pieces) else self.template
        self._valid: dict[str, set[str]] = {d.name: set() for d in self.dims}
        self._dim_valid = tuple((d, d.name, self._valid[d.name]) for d in self.dims)
        self._valid_seq = tuple(ok for _d, _n, ok in self._dim_valid)  # regex group order

    def _check(self, dim: Dim, value: str) -> str:
        seen = self._valid[dim.name]
        if value not in seen:
            dim.validate(value)
            if len(seen) < _VALID_CACHE:
                seen.add(value)
        return value

    @property
    def dim_names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dims)

    def dim(self, name: str) -> Dim:
        return self._dim_by_name[name]

    def matches(self, ref: str) -> bool:
        try:
            self.parse(ref)
        except RefError:
            return False
        return True

    def parse(self, ref: str) -> dict[str, str]:
        m = self._regex.fullmatch(ref) if ref.__class__ is str and len(ref) <= MAX_REF_LENGTH \
            else None  # a ref of values accepted before (so no control chars) needs no checks
        if m is not None and all(v in ok for v, ok in zip(m.groups(), self._valid_seq, strict=True)):
            return m.groupdict()
        check_ref(ref)
        m = self._regex.fullmatch(ref)
        if not m:
            why = ""
            if ref.count("/") != self.template.count("/"):
                why = (f": it has {ref.count('/') + 1} path segments, the pattern "
                       f"{self.template.count('/') + 1} (values may not contain '/')")
            raise RefError(f"ref {_shown(ref, 200)} does not match pattern '{self.template}'{why}")
        values = m.groupdict()
        for d in self.dims:
            if values[d.name] not in self._valid[d.name]:
                self._check(d, values[d.name])
        return values

    def format(self, **values: str) -> str:
        if self._fmt is not None and len(values) == len(self.dims):
            try:
                for d, name, ok in self._dim_valid:
                    v = values[name]
                    if v.__class__ is not str or v not in ok:
                        values[name] = self._check(d, str(v))
                # interned: a ref formatted by many configs (a trailing window's days) is
                # one string in memory, not one per config (a third of a 1M-ref plan)
                ref = self._fmt.format_map(values)
                if len(ref) > MAX_REF_LENGTH:
                    check_ref(ref)
                return sys.intern(ref)
            except KeyError:
                pass  # a wrong name: explained below
        missing = [n for n in self.dim_names if n not in values]
        extra = [n for n in values if n not in self._dim_by_name]
        if missing or extra:
            raise RefError(
                f"pattern '{self.template}' needs values for {list(self.dim_names)}"
                + (f"; missing {missing}" if missing else "")
                + (f"; unknown {extra}" if extra else "")
            )
        out = self.template
        for d in self.dims:
            out = out.replace("{" + d.name + "}", d.validate(str(values[d.name])))
        return check_ref(out)

    def __repr__(self) -> str:
        return f"PartitionPattern({self.template!r}, version={self.version!r})"


def date_range(start: str, end: str) -> list[str]:
    """Inclusive list of ISO dates; the workhorse of trailing windows and replays."""
    d0, d1 = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    if d1 < d0:
        raise RefError(f"date range end {end} is before start {start}")
    return [(d0 + dt.timedelta(days=i)).isoformat() for i in range((d1 - d0).days + 1)]


def shift_date(day: str, days: int) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=days)).isoformat()


def consecutive_runs(items: Iterable, position: Callable[[object], int]) -> list[list]:
    """``items`` (in order) split wherever ``position`` steps by more than one; items at the
    same position stay together. The one splitter behind contiguous dates and range runs."""
    runs: list[list] = []
    last = None
    for item in items:
        pos = position(item)
        if runs and pos in (last, last + 1):
            runs[-1].append(item)
        else:
            runs.append([item])
        last = pos
    return runs


def contiguous_dates(dates) -> list[list[str]]:
    """Split ISO dates into runs of consecutive days: one config (one run) per run."""
    return consecutive_runs(sorted(set(dates)), lambda d: dt.date.fromisoformat(d).toordinal())


def check_refs(refs: object) -> list[str]:
    """A request's refs as a list of checked strings; one string (or bytes) instead of a
    list, or a non-iterable, is a typed error rather than a character-by-character plan."""
    if isinstance(refs, (str, bytes, bytearray)):
        raise RefError(f"pass a list of refs, not one {type(refs).__name__} ({refs!r:.60}); "
                       "e.g. ['reviews/date=2024-01-01']")
    try:
        items = list(refs)
    except TypeError:
        raise RefError(f"refs must be a list of strings, got {type(refs).__name__}") from None
    return [check_ref(r) for r in items]
