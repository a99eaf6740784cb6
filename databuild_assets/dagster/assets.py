"""Turn any databuild Graph into Dagster definitions: one multi-asset per job."""


import logging
import warnings

import dagster as dg

from resources.pools import warehouse_pool  # the pool key; build --jobs N uses the same

from ..core import Graph, Job
from ..core.errors import DefinitionError
from .mappings import lineage, upstream_datasets
from .partitions import (
    dynamic_name,
    dynamic_partitions_name,
    job_partitions_def,
    kind_of,
    partition_mapping,
)
from .reporting import CHECK_NAME, asset_key
from .run_contract import BUILD_TAG, FORCE_TAG, asset_jobs, sqlite_event_log_kept_open
from .steps import report, run_step, step_refs

log = logging.getLogger(__name__)
_partitions_for = job_partitions_def  # TODO(issue 13): remove once dagster/schedules.py imports
#                                      partitions.job_partitions_def


class PartitionSelection(dg.Config):
    """Exact refs for this run (set by `databuild build --dagster`); empty: the run's keys."""

    refs: list[str] = []


def _deps(graph: Graph, job: Job, lin) -> dict[str, list[dg.AssetDep]]:
    """Per output dataset: its AssetDeps with the partition mapping configure() implies.
    Dagster keeps one mapping per parent for a multi-asset: outputs must agree."""
    per_parent: dict[str, tuple] = {}
    out: dict[str, list[dg.AssetDep]] = {}
    for child in job.outputs:
        out[child.dataset] = []
        for dep in lin.deps.get(child.dataset, []):
            parent = graph.registry.patterns[dep.parent]
            mapping = partition_mapping(dep, child, parent)
            seen = per_parent.setdefault(dep.parent, (dep, mapping))
            if seen[1] != mapping:
                raise DefinitionError(
                    f"job {job.label!r}: its outputs read {dep.parent} differently "
                    f"({seen[0].describe()} vs {dep.describe()}); Dagster keeps one partition "
                    "mapping per parent of a multi-asset: split the job")
            out[child.dataset].append(dg.AssetDep(asset_key(dep.parent),
                                                  partition_mapping=mapping))
    return out


def _description(job: Job, lin, dataset: str) -> str | None:
    text = job.description or (job.__doc__ or "").strip()
    deps = lin.deps.get(dataset, [])
    mapped = [f"{d.parent} ({d.describe()})" for d in deps if any(
        r.kind != "identity" for r in d.rules)]
    if mapped:
        text += "\n\nReads per partition: " + "; ".join(mapped) + "."
    if lin.queries.get(dataset):
        text += ("\n\nQUERY inputs (read if live, never built for it, absence is fine): "
                 + ", ".join(sorted(lin.queries[dataset])) + ".")
    return text.strip() or None


def job_asset(graph: Graph, job: Job, io_key: str = "io_manager") -> dg.AssetsDefinition:
    pdef = job_partitions_def(job)
    lin = lineage(graph.registry, job)
    deps = _deps(graph, job, lin)
    kinds = set(getattr(job, "kinds", None) or ["python"]) | {"parquet"}
    specs = [dg.AssetSpec(
        key=asset_key(p.dataset), deps=deps[p.dataset], group_name=job.group,
        description=_description(job, lin, p.dataset),
        code_version=str(job.code_version), kinds=kinds, owners=list(job.owners) or None,
        skippable=True,
        metadata={"databuild/pattern": p.template, "databuild/dataset_version": p.version,
                  "databuild/job": job.label, "databuild/partitioning": kind_of(p),
                  **({"databuild/query_inputs": dg.MetadataValue.json(
                      sorted(lin.queries[p.dataset]))} if lin.queries.get(p.dataset) else {}),
                  **({"databuild/partition_lineage": dg.MetadataValue.json(
                      {d.parent: d.describe() for d in lin.deps[p.dataset]})}
                     if lin.deps.get(p.dataset) else {})})
        for p in job.outputs]
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)  # partitioned checks
    checks = [dg.AssetCheckSpec(CHECK_NAME, asset=asset_key(p.dataset), partitions_def=pdef,
                                description="live and fresh by databuild's per-partition "
                                            "staleness (reasons in metadata)")
              for p in job.outputs]
    patterns = {asset_key(p.dataset): p for p in job.outputs}

    @dg.multi_asset(name=job.label, specs=specs, check_specs=checks, partitions_def=pdef,
                    backfill_policy=dg.BackfillPolicy.single_run(), can_subset=True,
                    required_resource_keys={io_key}, op_tags={"databuild/job": job.label},
                    pool=warehouse_pool(job))
    def _asset(context: dg.AssetExecutionContext, config: PartitionSelection):
        # the typed DatabuildResource the IO manager is configured with (catalog, data root,
        # job timeout), so assets materialized with only an IO manager run the same
        bound = getattr(context.resources, io_key).databuild.bind(graph)
        if config.refs:
            refs = list(config.refs)
        else:
            own, extra = step_refs(context, bound, patterns, pdef)
            if extra:
                context.log.info(f"also building {len(extra)} partition(s) that other assets "
                                 f"of this run read: {', '.join(extra[:10])}")
            refs = own + extra
        force = context.run.tags.get(FORCE_TAG, "").lower() == "true"
        build_id = context.run.tags.get(BUILD_TAG, None) and \
            f"{context.run.tags[BUILD_TAG]}-{context.run_id[:8]}"
        with sqlite_event_log_kept_open(context.instance, context.run.run_id):
            result, failed = run_step(context, bound, job, refs, force, build_id)
            yield from report(context, bound, refs, result, failed)

    return _asset


def build_definitions(graph: Graph, *, catalog_url: str = "", data_root: str = "",
                      databuild=None, extra_resources: dict | None = None,
                      **kwargs) -> dg.Definitions:
    """``databuild``: the DatabuildResource the entry point built from its settings (else
    one of ``catalog_url`` and ``data_root``); sensors use ``graph``'s own binding unless
    ``catalog_url``/``data_root`` are given."""
    from .io_manager import DatabuildIOManager
    from .resource import DatabuildResource

    assets = [job_asset(graph, job) for job in graph.jobs]
    jobs = asset_jobs(graph)  # <label>__job, the run contract's names
    databuild = databuild or DatabuildResource(catalog_url=catalog_url,
                                               data_root=str(data_root or ""))
    resources = {"io_manager": DatabuildIOManager(databuild=databuild)}
    resources.update(extra_resources or {})
    from sensors.staleness import build_staleness_sensor

    bound = graph.bind(catalog_url or None, data_root or None)
    sensors = [build_staleness_sensor(bound)] + list(kwargs.pop("sensors", []))
    automation = kwargs.pop("automation", None)  # build_automation kwargs; False: none
    if automation is not False:
        from sensors import build_automation

        auto_sensors, auto_schedules = build_automation(bound, jobs=jobs, **(automation or {}))
        sensors += auto_sensors
        kwargs["schedules"] = auto_schedules + list(kwargs.get("schedules", []))
    return dg.Definitions(assets=assets, jobs=jobs, resources=resources, sensors=sensors,
                          **kwargs)


__all__ = ["build_definitions", "dynamic_name", "dynamic_partitions_name", "job_asset",
           "upstream_datasets", "PartitionSelection", "FORCE_TAG", "BUILD_TAG"]
