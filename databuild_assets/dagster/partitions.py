"""Pattern -> Dagster PartitionsDefinition, and partition key <-> ref.

* one date dim: daily windows; one static dim: static;
* two date/static dims: multi-partitions, key ``a|b`` (dimensions ordered by name);
* three or more date/static dims (at most one date): multi-partitions whose second
  dimension is the product of the static dims, key ``color=red;size=s|2024-01-01``. Every
  key exists on a fresh instance, so `dagster asset materialize --partition` works at once;
* free tokens, several dates or huge products: dynamic partitions keyed
  ``name=value|name=value``, registered as refs are planned.
"""

from __future__ import annotations

import itertools
import math

import dagster as dg

from ..core.refs import DateDim, Dim, PartitionPattern, StaticDim

MAX_PRODUCT = 20_000


def _groups(pattern: PartitionPattern) -> list[tuple[str, list[Dim]]]:
    dates = [d for d in pattern.dims if isinstance(d, DateDim)]
    statics = [d for d in pattern.dims if not isinstance(d, DateDim)]
    if dates:
        return [(dates[0].name, dates), ("_".join(d.name for d in statics), statics)]
    return [(statics[0].name, statics[:1]), ("_".join(d.name for d in statics[1:]), statics[1:])]


def kind_of(pattern: PartitionPattern) -> str:
    dims = pattern.dims
    if not dims:
        return "none"
    if any(type(d) is Dim for d in dims) or sum(isinstance(d, DateDim) for d in dims) > 1:
        return "dynamic"
    if len(dims) == 1:
        return "daily" if isinstance(dims[0], DateDim) else "static"
    if len(dims) == 2:
        return "multi"
    statics = [d for d in dims if isinstance(d, StaticDim)]
    if math.prod(len(d.values) for d in statics) > MAX_PRODUCT:
        return "dynamic"
    return "multi_product"


def dynamic_name(pattern: PartitionPattern) -> str:
    return pattern.dataset.replace("/", "__")


def _combo(dims: list[Dim], values: dict[str, str]) -> str:
    if len(dims) == 1:
        return values[dims[0].name]
    return ";".join(f"{d.name}={values[d.name]}" for d in dims)


def _one(dims: list[Dim]) -> dg.PartitionsDefinition:
    if len(dims) == 1 and isinstance(dims[0], DateDim):
        return dg.DailyPartitionsDefinition(start_date=dims[0].start, end_offset=1)
    keys = [_combo(dims, dict(zip([d.name for d in dims], combo, strict=True)))
            for combo in itertools.product(*[d.values for d in dims])]
    return dg.StaticPartitionsDefinition(keys)


def partitions_def(pattern: PartitionPattern) -> dg.PartitionsDefinition | None:
    kind = kind_of(pattern)
    if kind == "none":
        return None
    if kind == "dynamic":
        return dg.DynamicPartitionsDefinition(name=dynamic_name(pattern))
    if kind in ("multi", "multi_product"):
        if kind == "multi":
            return dg.MultiPartitionsDefinition({d.name: _one([d]) for d in pattern.dims})
        return dg.MultiPartitionsDefinition({name: _one(ds) for name, ds in _groups(pattern)})
    return _one([pattern.dims[0]])


def ref_to_key(pattern: PartitionPattern, ref: str) -> str | None:
    values = pattern.parse(ref)
    kind = kind_of(pattern)
    if kind == "none":
        return None
    if kind == "dynamic":
        return "|".join(f"{d.name}={values[d.name]}" for d in pattern.dims)
    if kind == "multi":
        return "|".join(values[n] for n in sorted(values))
    if kind == "multi_product":
        return "|".join(_combo(ds, values) for _name, ds in sorted(_groups(pattern)))
    return values[pattern.dims[0].name]


def key_to_ref(pattern: PartitionPattern, key: str | None) -> str:
    kind = kind_of(pattern)
    if kind == "none":
        return pattern.format()
    if kind == "dynamic":
        values = dict(part.split("=", 1) for part in key.split("|"))
    elif kind == "multi":
        values = dict(zip(sorted(pattern.dim_names), key.split("|"), strict=True))
    elif kind == "multi_product":
        values = {}
        for (_name, ds), part in zip(sorted(_groups(pattern)), key.split("|"), strict=True):
            if len(ds) == 1:
                values[ds[0].name] = part
            else:
                values.update(kv.split("=", 1) for kv in part.split(";"))
    else:
        values = {pattern.dims[0].name: key}
    return pattern.format(**values)
