"""Partition lineage for Dagster, inferred from ``configure()`` (or declared by the job).

Dagster draws upstream partitions, plans backfills and judges staleness from partition
mappings; databuild's true per-partition dependencies live in ``configure()``. This module
probes ``configure()`` on sample refs and describes, per parent dataset and dimension, how
the parent's values follow the child's: the same value (identity), a window of days, or
every value (fan-in). Pure: no Dagster import. ``dagster_mapping`` (thin) turns a
description into a Dagster ``PartitionMapping`` and fails at definition time, naming the
job and the mapping it would need, when Dagster has no mapping for it.

A job may declare its lineage instead (``upstream = {"orders_clean": {"date": 7}}``:
per parent dataset, per parent dimension ``"identity"``, ``"all"``, ``n`` (a trailing
window of n days) or ``(start, end)`` day offsets), e.g. when configure() is expensive.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
from dataclasses import dataclass

from ..core.config import DepType
from ..core.errors import DefinitionError
from ..core.refs import DateDim, PartitionPattern, StaticDim

log = logging.getLogger(__name__)

SAMPLE_DAYS = 366  # sample dates well after a dataset's first day: windows are not clipped


@dataclass(frozen=True)
class DimRule:
    """How one parent dimension follows the child: identity, window (day offsets), all."""

    parent_dim: str
    child_dim: str | None
    kind: str
    start: int = 0
    end: int = 0

    def describe(self) -> str:
        if self.kind == "window":
            return f"{self.parent_dim}: days {self.start:+d}..{self.end:+d} of {self.child_dim}"
        if self.kind == "all":
            return f"{self.parent_dim}: all values"
        return f"{self.parent_dim}: same as {self.child_dim}"


@dataclass(frozen=True)
class Dependency:
    job: str
    child: str  # dataset
    parent: str  # dataset
    rules: tuple[DimRule, ...]

    def describe(self) -> str:
        return "; ".join(r.describe() for r in self.rules) or "unpartitioned"


@dataclass
class Lineage:
    """Per child dataset: MATERIALIZE dependencies (mapped) and QUERY datasets (shown only)."""

    deps: dict[str, list[Dependency]]
    queries: dict[str, set[str]]


def sample_refs(p: PartitionPattern) -> list[str]:
    """A few refs of ``p``: two consecutive days, the first and last static values."""
    choices = []
    for d in p.dims:
        if isinstance(d, DateDim):
            day = dt.date.fromisoformat(d.start) + dt.timedelta(days=SAMPLE_DAYS)
            choices.append([day.isoformat(), (day + dt.timedelta(days=1)).isoformat()])
        elif isinstance(d, StaticDim):
            choices.append(sorted({d.values[0], d.values[-1]}))
        else:
            choices.append(["sample"])
    names = [d.name for d in p.dims]
    return [p.format(**dict(zip(names, combo, strict=True)))
            for combo in itertools.product(*choices)]


def _inputs_of(job, ref: str):
    configs = job.configure([ref])
    config = next((c for c in configs or [] if ref in c.outputs), None)
    if config is None:
        raise DefinitionError(f"job {job.label!r}: configure([{ref!r}]) returned no config "
                              "that outputs it")
    wanted = job.inputs_of(config, ref)
    return [d for d in config.inputs if wanted is None or d.ref in wanted]


def _paired(child: PartitionPattern, parent: PartitionPattern, name: str) -> str | None:
    """The child dimension a parent dimension follows: same name, or the only dates."""
    if name in child.dim_names:
        return name
    pdates = [d.name for d in parent.dims if isinstance(d, DateDim)]
    cdates = [d.name for d in child.dims if isinstance(d, DateDim)]
    if isinstance(parent.dim(name), DateDim) and len(pdates) == 1 and len(cdates) == 1:
        return cdates[0]
    return None


def infer_rules(job: str, child: PartitionPattern, parent: PartitionPattern,
                samples: list[tuple[dict, list[dict]]]) -> tuple[DimRule, ...]:
    """Rules that reproduce every sample (child values -> parent values), or an error."""
    rules = []
    for pd in parent.dims:
        cd = _paired(child, parent, pd.name)
        seen = set()
        for cvals, pvals in samples:
            values = {v[pd.name] for v in pvals}
            seen.add(_rule(job, child, parent, pd, cd, cvals, values))
        if len(seen) != 1:
            raise _cannot(job, child, parent, f"dimension {pd.name!r} follows the child "
                          f"differently from one sample to the next ({sorted(map(str, seen))})")
        rules.append(seen.pop())
    for _cvals, pvals in samples:  # every combination of the per-dimension values
        sizes = [len({v[d.name] for v in pvals}) for d in parent.dims]
        if len({tuple(sorted(v.items())) for v in pvals}) != math.prod(sizes):
            raise _cannot(job, child, parent, "the parent partitions read are not every "
                          "combination of their dimension values")
    return tuple(rules)


def _rule(job, child, parent, pd, cd, cvals, values) -> DimRule:
    if isinstance(pd, StaticDim) and values == set(pd.values) and (
            cd is None or len(pd.values) > 1):
        return DimRule(pd.name, cd, "all")
    if cd is None:
        raise _cannot(job, child, parent, f"parent dimension {pd.name!r} takes "
                      f"{sorted(values)} whatever the child partition; Dagster maps only "
                      "identity, day windows and all values")
    if isinstance(pd, DateDim) and isinstance(child.dim(cd), DateDim):
        base = dt.date.fromisoformat(cvals[cd])
        offs = sorted((dt.date.fromisoformat(v) - base).days for v in values)
        if offs != list(range(offs[0], offs[-1] + 1)):
            raise _cannot(job, child, parent, f"dimension {pd.name!r} reads days {offs} "
                          "relative to the child's: not one contiguous window")
        if offs == [0]:
            return DimRule(pd.name, cd, "identity")
        return DimRule(pd.name, cd, "window", offs[0], offs[-1])
    if values == {cvals[cd]}:
        return DimRule(pd.name, cd, "identity")
    raise _cannot(job, child, parent, f"dimension {pd.name!r} reads {sorted(values)} for "
                  f"{cd}={cvals[cd]!r}: neither the same value nor every value")


def _cannot(job, child, parent, why: str) -> DefinitionError:
    return DefinitionError(
        f"job {job!r}: the dependency of {child.dataset} on {parent.dataset} cannot be drawn "
        f"as a Dagster partition mapping: {why}. Declare it on the job (upstream = "
        f"{{{parent.dataset!r}: {{dim: 'identity' | 'all' | days}}}}) or change configure()")


def declared_rules(job: str, child: PartitionPattern, parent: PartitionPattern,
                   spec) -> tuple[DimRule, ...]:
    rules = []
    spec = spec if isinstance(spec, dict) else {}
    for pd in parent.dims:
        cd = _paired(child, parent, pd.name)
        how = spec.get(pd.name, "identity" if cd else "all")
        if how == "all":
            rules.append(DimRule(pd.name, cd, "all"))
        elif how == "identity" and cd:
            rules.append(DimRule(pd.name, cd, "identity"))
        elif isinstance(how, int) and cd and how >= 1:
            rules.append(DimRule(pd.name, cd, "window", -(how - 1), 0) if how > 1
                         else DimRule(pd.name, cd, "identity"))
        elif isinstance(how, (tuple, list)) and cd and len(how) == 2:
            rules.append(DimRule(pd.name, cd, "window", int(how[0]), int(how[1])))
        else:
            raise DefinitionError(f"job {job!r}: declared upstream {parent.dataset!r} dimension "
                                  f"{pd.name!r}: {how!r} is not 'identity', 'all', a number of "
                                  "days or (start, end) offsets with a matching child dimension")
    return tuple(rules)


def lineage(registry, job) -> Lineage:
    """Probe (or read the declaration of) one job: its mapped deps and QUERY datasets."""
    deps: dict[str, list[Dependency]] = {}
    queries: dict[str, set[str]] = {}
    declared = getattr(job, "upstream", None)
    for child in job.outputs:
        own = {p.dataset for p in job.outputs}
        if declared:
            items = declared.items() if isinstance(declared, dict) else (
                (getattr(p, "dataset", p), None) for p in declared)
            deps[child.dataset] = [Dependency(job.label, child.dataset, ds, declared_rules(
                job.label, child, registry.patterns[ds], spec)) for ds, spec in items
                if ds not in own]
            queries[child.dataset] = set()
            continue
        per_parent: dict[str, list[tuple[dict, list[dict]]]] = {}
        queried: set[str] = set()
        samples = sample_refs(child)
        for ref in samples:
            try:
                inputs = _inputs_of(job, ref)
            except DefinitionError:
                raise
            except Exception as e:  # noqa: BLE001 - user code: any failure becomes a DefinitionError
                raise DefinitionError(f"job {job.label!r}: configure([{ref!r}]) failed while "
                                      f"drawing its lineage for Dagster: {e}") from None
            cvals = child.parse(ref)
            found: dict[str, list[dict]] = {}
            for d in inputs:
                ds = registry.dataset(d.ref)
                if d.dep_type is DepType.QUERY:
                    queried.add(ds)
                    continue
                found.setdefault(ds, []).append(registry.patterns[ds].parse(d.ref))
            for ds in set(per_parent) | set(found):
                per_parent.setdefault(ds, []).append((cvals, found.get(ds, [])))
        out = []
        for ds, obs in sorted(per_parent.items()):
            if ds in own:
                continue
            if any(not pvals for _c, pvals in obs):
                raise _cannot(job.label, child, registry.patterns[ds],
                              "some child partitions read it and others do not")
            out.append(Dependency(job.label, child.dataset, ds, infer_rules(
                job.label, child, registry.patterns[ds], obs)))
        deps[child.dataset] = out
        queries[child.dataset] = queried - {d.parent for d in out} - own
    return Lineage(deps, queries)


def upstream_datasets(graph, job) -> set[str]:
    """Dataset-level lineage (MATERIALIZE and QUERY parents), for the propagation sensor."""
    try:
        lin = lineage(graph.registry, job)
    except Exception as e:  # noqa: BLE001 - the definitions report it; sensors never break on it
        log.warning("could not infer lineage of job %s: %s", job.label, e)
        return set()
    return {d.parent for deps in lin.deps.values() for d in deps} | {
        q for qs in lin.queries.values() for q in qs}


def parents_of(dep: Dependency, child: PartitionPattern, parent: PartitionPattern,
               ref: str) -> list[str]:
    """The parent refs a child ref maps to under ``dep`` (clipped at the parent's first day)."""
    cvals = child.parse(ref)
    choices = []
    for rule in dep.rules:
        pd = parent.dim(rule.parent_dim)
        if rule.kind == "all":
            choices.append(list(pd.values))
        elif rule.kind == "identity":
            choices.append([cvals[rule.child_dim]])
        else:
            base = dt.date.fromisoformat(cvals[rule.child_dim])
            days = [base + dt.timedelta(days=i) for i in range(rule.start, rule.end + 1)]
            first = dt.date.fromisoformat(pd.start)
            choices.append([d.isoformat() for d in days if d >= first])
    names = [r.parent_dim for r in dep.rules]
    return [parent.format(**dict(zip(names, combo, strict=True)))
            for combo in itertools.product(*choices)]


def run_needs(registry, selected: set[str], requested: list[str]) -> set[str]:
    """The refs one Dagster run must build: ``requested`` plus, transitively, the
    MATERIALIZE inputs of those refs whose dataset the run also selected (a trailing
    window's earlier days when the run materializes "*trailing_revenue" over a range)."""
    want = set(requested)
    frontier = sorted(want)
    while frontier:
        by_job: dict[str, list[str]] = {}
        for r in frontier:
            by_job.setdefault(registry.producer_of(r).label, []).append(r)
        frontier = []
        for label, refs in sorted(by_job.items()):
            job = registry.jobs[label]
            wanted = set(refs)
            for c in job.configure(sorted(refs)) or []:
                for out in c.outputs & wanted:
                    keep = job.inputs_of(c, out)
                    for d in c.inputs:
                        if d.dep_type is not DepType.MATERIALIZE or d.ref in want or (
                                keep is not None and d.ref not in keep):
                            continue
                        if registry.dataset(d.ref) in selected:
                            want.add(d.ref)
                            frontier.append(d.ref)
    return want
