"""Pattern -> Dagster PartitionsDefinition, and partition key <-> ref.

One date dim: daily windows. One static dim: static. Two date/static dims: multi-partitions
(key ``a|b``, dimensions ordered by name as Dagster does). More dims or any free token:
dynamic partitions keyed ``name=value|name=value`` and registered as refs are planned.
"""

from __future__ import annotations

import dagster as dg

from ..core.refs import DateDim, Dim, PartitionPattern, StaticDim


def kind_of(pattern: PartitionPattern) -> str:
    dims = pattern.dims
    if not dims:
        return "none"
    if any(type(d) is Dim for d in dims) or len(dims) > 2:
        return "dynamic"
    if len(dims) == 1:
        return "daily" if isinstance(dims[0], DateDim) else "static"
    if sum(isinstance(d, DateDim) for d in dims) > 1:
        return "dynamic"  # Dagster allows one time dimension in a multi-partition
    return "multi"


def dynamic_name(pattern: PartitionPattern) -> str:
    return pattern.dataset.replace("/", "__")


def _one(dim: Dim) -> dg.PartitionsDefinition:
    if isinstance(dim, DateDim):
        return dg.DailyPartitionsDefinition(start_date=dim.start, end_offset=1)
    assert isinstance(dim, StaticDim)
    return dg.StaticPartitionsDefinition(list(dim.values))


def partitions_def(pattern: PartitionPattern) -> dg.PartitionsDefinition | None:
    kind = kind_of(pattern)
    if kind == "none":
        return None
    if kind == "dynamic":
        return dg.DynamicPartitionsDefinition(name=dynamic_name(pattern))
    if kind == "multi":
        return dg.MultiPartitionsDefinition({d.name: _one(d) for d in pattern.dims})
    return _one(pattern.dims[0])


def ref_to_key(pattern: PartitionPattern, ref: str) -> str | None:
    values = pattern.parse(ref)
    kind = kind_of(pattern)
    if kind == "none":
        return None
    if kind == "dynamic":
        return "|".join(f"{d.name}={values[d.name]}" for d in pattern.dims)
    if kind == "multi":
        return "|".join(values[n] for n in sorted(values))
    return values[pattern.dims[0].name]


def key_to_ref(pattern: PartitionPattern, key: str | None) -> str:
    kind = kind_of(pattern)
    if kind == "none":
        return pattern.format()
    if kind == "dynamic":
        values = dict(part.split("=", 1) for part in key.split("|"))
    elif kind == "multi":
        values = dict(zip(sorted(pattern.dim_names), key.split("|"), strict=True))
    else:
        values = {pattern.dims[0].name: key}
    return pattern.format(**values)
