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
import warnings

import dagster as dg

from ..core.errors import DefinitionError
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


def job_partitions_def(job) -> dg.PartitionsDefinition | None:
    """The one PartitionsDefinition of a job's multi-asset (all its outputs share it)."""
    defs = {repr(kind_of(p)) + repr([(d.name, d.kind, getattr(d, "values", ()), getattr(
        d, "start", "")) for d in p.dims]) for p in job.outputs}
    if len(defs) > 1:
        raise DefinitionError(f"job {job.label!r} writes datasets with different dimensions; "
                              "Dagster needs one partitioning per multi-asset: split the job")
    pdef = partitions_def(job.outputs[0])
    if isinstance(pdef, dg.DynamicPartitionsDefinition) and len(job.outputs) > 1:
        pdef = dg.DynamicPartitionsDefinition(name=job.label)
    return pdef


def dynamic_partitions_name(job) -> str | None:
    """The dynamic partitions a job's refs are registered in, None when not dynamic."""
    pdef = job_partitions_def(job)
    return pdef.name if isinstance(pdef, dg.DynamicPartitionsDefinition) else None


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


def dagster_dims(pattern: PartitionPattern) -> list[tuple[str, list[str]]]:
    """Multi-partition dimensions: (Dagster dimension name, the pattern dims it holds)."""
    if kind_of(pattern) == "multi":
        return [(d.name, [d.name]) for d in pattern.dims]
    return [(name, [d.name for d in ds]) for name, ds in _groups(pattern)]


def partition_mapping(dep, child: PartitionPattern, parent: PartitionPattern):
    """The Dagster PartitionMapping drawing ``dep`` (a mappings.Dependency); None: Dagster's
    default is right (unpartitioned parent). Raises DefinitionError naming the job and the
    mapping it would need when Dagster has none."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)  # multi mappings are "beta" in Dagster
        return _partition_mapping(dep, child, parent)


def _partition_mapping(dep, child: PartitionPattern, parent: PartitionPattern):
    from ..core.errors import DefinitionError

    ck, pk = kind_of(child), kind_of(parent)
    rules = {r.parent_dim: r for r in dep.rules}
    if pk == "none":
        return None

    def fail(need: str):
        return DefinitionError(
            f"job {dep.job!r}: {child.dataset} reads {parent.dataset} as ({dep.describe()}); "
            f"Dagster would need {need}, which it does not have for {ck} -> {pk} partitions. "
            "Declare `upstream` on the job with a mapping Dagster can draw, or repartition")

    def single(rule):
        if rule.kind == "all":
            return dg.AllPartitionMapping()
        if rule.kind == "identity":
            return (dg.TimeWindowPartitionMapping() if isinstance(parent.dim(rule.parent_dim),
                                                                  DateDim)
                    else dg.IdentityPartitionMapping())
        return dg.TimeWindowPartitionMapping(start_offset=rule.start, end_offset=rule.end,
                                             allow_nonexistent_upstream_partitions=True)

    if all(r.kind == "all" for r in dep.rules):
        return dg.AllPartitionMapping()
    if ck == "none":
        raise fail("a mapping from an unpartitioned asset to some partitions")
    if "dynamic" in (ck, pk):
        if ck == pk and set(child.dim_names) == set(parent.dim_names) and all(
                r.kind == "identity" and r.child_dim == r.parent_dim for r in dep.rules):
            return dg.IdentityPartitionMapping()
        raise fail("a mapping between dynamic partition keys other than identity")
    multi = ("multi", "multi_product")
    if ck not in multi and pk not in multi:
        return single(rules[parent.dims[0].name])
    if pk not in multi:  # multi child, single-dimension parent
        rule = rules[parent.dims[0].name]
        groups = [name for name, ds in dagster_dims(child) if ds == [rule.child_dim]]
        if rule.kind != "identity" or not groups:
            raise fail(f"a {rule.describe()} mapping from one dimension of a multi-partition "
                       "asset (MultiToSingleDimensionPartitionMapping maps identity only)")
        return dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=groups[0])
    if ck not in multi:  # single-dimension child, multi parent: the rest must be fan-in
        cdim = child.dims[0].name
        shared = [r for r in dep.rules if r.kind != "all"]
        groups = [name for name, ds in dagster_dims(parent)
                  if shared and ds == [shared[0].parent_dim]]
        if len(shared) != 1 or shared[0].kind != "identity" or shared[0].child_dim != cdim \
                or not groups:
            raise fail("a MultiToSingleDimensionPartitionMapping with a window or several "
                       "mapped dimensions")
        return dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name=groups[0])
    cgroups = dagster_dims(child)
    mapped = {}
    for name, ds in dagster_dims(parent):
        rs = [rules[d] for d in ds]
        if all(r.kind == "all" for r in rs):
            continue  # unmapped dimensions are all-to-all in a MultiPartitionMapping
        target = [cn for cn, cds in cgroups if cds == [r.child_dim for r in rs]]
        idents = [r for r in rs if r.kind == "identity"]
        wider = [(cn, cds) for cn, cds in cgroups
                 if {r.child_dim for r in idents} <= set(cds) and all(
                     isinstance(child.dim(c), StaticDim) for c in cds)]
        if target and (len(rs) == 1 or all(r.kind == "identity" for r in rs)):
            cname = target[0]
            mapping = single(rs[0]) if len(rs) == 1 else dg.IdentityPartitionMapping()
        elif idents and wider and all(r.kind != "window" for r in rs) and all(
                isinstance(parent.dim(d), StaticDim) for d in ds):
            cname = wider[0][0]  # static values matched key by key
            mapping = _static_group_mapping(parent, ds, child, wider[0][1], idents)
        else:
            raise fail(f"a per-dimension mapping for {name!r} ("
                       f"{'; '.join(r.describe() for r in rs)})")
        if cname in {m.dimension_name for m in mapped.values()}:
            raise fail(f"two parent dimensions mapped onto the child's {cname!r}")
        mapped[name] = dg.DimensionPartitionMapping(dimension_name=cname,
                                                    partition_mapping=mapping)
    return dg.MultiPartitionMapping(mapped)


def _static_group_mapping(parent, pdims, child, cdims, idents):
    """Parent static combination -> the child combinations that agree on the identity
    dimensions (fan-in over the parent's other dims, fan-out over the child's)."""
    index: dict[tuple, list[str]] = {}
    cobjs = [child.dim(c) for c in cdims]
    for combo in itertools.product(*[d.values for d in cobjs]):
        cv = dict(zip(cdims, combo, strict=True))
        index.setdefault(tuple(cv[r.child_dim] for r in idents), []).append(_combo(cobjs, cv))
    pobjs = [parent.dim(d) for d in pdims]
    out = {}
    for combo in itertools.product(*[d.values for d in pobjs]):
        pv = dict(zip(pdims, combo, strict=True))
        keys = index.get(tuple(pv[r.parent_dim] for r in idents))
        if keys:
            out[_combo(pobjs, pv)] = keys[0] if len(keys) == 1 else set(keys)
    return dg.StaticPartitionMapping(out)
