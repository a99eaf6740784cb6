"""Turn any databuild Graph into Dagster definitions: one multi-asset per job."""


import datetime as dt
import logging
import warnings

import dagster as dg

from ..core import DatabuildError, Graph, Job
from ..core.errors import DefinitionError
from ..core.refs import DateDim, PartitionPattern, StaticDim
from .partitions import dynamic_name, key_to_ref, kind_of, partitions_def, ref_to_key
from .reporting import CHECK_NAME, asset_key, freshness_evaluation, materialization

log = logging.getLogger("databuild.dagster")
FORCE_TAG = "databuild/force"
BUILD_TAG = "databuild/build_id"


class PartitionSelection(dg.Config):
    """Exact refs for this run (set by `databuild build --dagster`); empty: the run's keys."""

    refs: list[str] = []


def _sample_ref(p: PartitionPattern) -> str:
    values = {}
    for d in p.dims:
        if isinstance(d, DateDim):
            values[d.name] = (dt.date.fromisoformat(d.start) + dt.timedelta(days=30)).isoformat()
        elif isinstance(d, StaticDim):
            values[d.name] = d.values[0]
        else:
            values[d.name] = "sample"
    return p.format(**values)


def upstream_datasets(graph: Graph, job: Job) -> set[str]:
    """Dataset-level lineage: declared ``upstream`` patterns, else configure() of a sample."""
    declared = getattr(job, "upstream", None)
    if declared:
        return {p.dataset for p in declared}
    try:
        configs = job.configure([_sample_ref(job.outputs[0])])
        return {graph.registry.dataset(d.ref) for c in configs for d in c.inputs}
    except Exception as e:  # lineage is a nicety; never block loading definitions
        log.warning("could not infer lineage of job %s: %s", job.label, e)
        return set()


def _partitions_for(job: Job):
    defs = {repr(kind_of(p)) + repr([(d.name, d.kind, getattr(d, "values", ()), getattr(
        d, "start", "")) for d in p.dims]) for p in job.outputs}
    if len(defs) > 1:
        raise DefinitionError(f"job {job.label!r} writes datasets with different dimensions; "
                              "Dagster needs one partitioning per multi-asset: split the job")
    pdef = partitions_def(job.outputs[0])
    if isinstance(pdef, dg.DynamicPartitionsDefinition) and len(job.outputs) > 1:
        pdef = dg.DynamicPartitionsDefinition(name=job.label)
    return pdef


def dynamic_partitions_name(job: Job) -> str | None:
    pdef = _partitions_for(job)
    return pdef.name if isinstance(pdef, dg.DynamicPartitionsDefinition) else None


def job_asset(graph: Graph, job: Job, io_key: str = "io_manager") -> dg.AssetsDefinition:
    pdef = _partitions_for(job)
    ups = sorted(upstream_datasets(graph, job) - {p.dataset for p in job.outputs})
    kinds = set(getattr(job, "kinds", None) or ["python"]) | {"parquet"}
    specs = [dg.AssetSpec(
        key=asset_key(p.dataset), deps=[asset_key(u) for u in ups], group_name=job.group,
        description=(job.description or (job.__doc__ or "").strip() or None),
        code_version=str(job.code_version), kinds=kinds, owners=list(job.owners) or None,
        skippable=True,
        metadata={"databuild/pattern": p.template, "databuild/dataset_version": p.version,
                  "databuild/job": job.label, "databuild/partitioning": kind_of(p)})
        for p in job.outputs]
    warnings.filterwarnings("ignore", category=dg.PreviewWarning)  # partitioned checks
    checks = [dg.AssetCheckSpec(CHECK_NAME, asset=asset_key(p.dataset), partitions_def=pdef,
                                description="live and fresh by databuild's per-partition "
                                            "staleness (reasons in metadata)")
              for p in job.outputs]
    patterns = {asset_key(p.dataset): p for p in job.outputs}

    @dg.multi_asset(name=job.label, specs=specs, check_specs=checks, partitions_def=pdef,
                    backfill_policy=dg.BackfillPolicy.single_run(), can_subset=True,
                    required_resource_keys={io_key}, op_tags={"databuild/job": job.label})
    def _asset(context: dg.AssetExecutionContext, config: PartitionSelection):
        io = getattr(context.resources, io_key)
        bound = graph.bind(io.resolved_catalog_url, io.resolved_data_root)
        refs = list(config.refs) or _refs_of_run(context, patterns, pdef)
        force = context.run.tags.get(FORCE_TAG, "").lower() == "true"
        try:
            result = bound.build(refs, force=force, origin="dagster", upstream=False,
                                 run_id=context.run_id,
                                 build_id=context.run.tags.get(BUILD_TAG, None) and
                                 f"{context.run.tags[BUILD_TAG]}-{context.run_id[:8]}",
                                 logger=context.log)
        except DatabuildError as e:
            raise dg.Failure(description=str(e)) from None
        yield from _report(context, bound, refs, result, patterns, pdef)

    return _asset


def _refs_of_run(context, patterns, pdef) -> list[str]:
    keys = context.partition_keys if pdef is not None else [None]
    refs = []
    for akey in context.selected_asset_keys:
        refs += [key_to_ref(patterns[akey], k) for k in keys]
    return refs


def _report(context, graph: Graph, refs, result, patterns, pdef):
    by_ref = {m.ref: m for m in result.manifests}
    fresh_ids = {r: s.manifest_id for r, s in result.plan.skipped.items()}
    fresh_ids.update({r: None for r in result.cut_off})
    statuses = graph.status(refs)
    skipped_ms = graph.catalog.manifests(s.manifest_id for s in statuses.values() if s.manifest_id)
    events = []
    for ref in refs:
        p = graph.registry.pattern(ref)
        key = ref_to_key(p, ref)
        st = statuses[ref]
        m = by_ref.get(ref)
        if m is not None:
            events.append(materialization(p.dataset, key, m, graph.data_root))
        elif ref in fresh_ids and st.manifest_id in skipped_ms:
            events.append(materialization(p.dataset, key, skipped_ms[st.manifest_id],
                                          graph.data_root, skipped=True))
        else:
            continue
        events.append(freshness_evaluation(p.dataset, key, st))
    single = pdef is None or len(context.partition_keys) == 1
    failed = {**result.failed, **result.blocked}
    if single and not failed:
        for ev in events:  # one partition: the normal Dagster results, no fan-out issue
            if isinstance(ev, dg.AssetMaterialization):
                yield dg.MaterializeResult(asset_key=ev.asset_key, metadata=ev.metadata,
                                           data_version=dg.DataVersion(
                                               ev.tags["dagster/data_version"]),
                                           tags={k: v for k, v in ev.tags.items()
                                                 if k != "dagster/data_version"})
            else:
                yield dg.AssetCheckResult(asset_key=ev.asset_key, check_name=ev.check_name,
                                          passed=ev.passed, metadata=ev.metadata,
                                          severity=ev.severity)
        return
    if not failed:
        # One result per asset first, so downstream steps of the same run (a UI "materialize
        # all" over a range) are not skipped; the per-partition events logged next are the
        # latest records, so each partition keeps its own data version and metadata.
        for akey in context.selected_asset_keys:
            yield dg.MaterializeResult(asset_key=akey, metadata={
                "databuild/partitions": dg.MetadataValue.int(len(refs)),
                "databuild/note": "per-partition versions are in the next event"})
    for ev in events:
        context.log_event(ev)
    if failed:
        first = sorted(failed.items())[0]
        raise dg.Failure(
            description=f"{len(failed)} of {len(refs)} partition(s) failed; first: "
                        f"{first[0]}: {first[1]}",
            metadata={"failed": dg.MetadataValue.json(failed),
                      "built": dg.MetadataValue.int(len(result.manifests))})


def build_definitions(graph: Graph, *, catalog_url: str = "", data_root: str = "",
                      extra_resources: dict | None = None, **kwargs) -> dg.Definitions:
    from .io_manager import DatabuildIOManager

    assets = [job_asset(graph, job) for job in graph.jobs]
    jobs = [dg.define_asset_job(f"{job.label}__job", selection=dg.AssetSelection.assets(
        *[asset_key(p.dataset) for p in job.outputs]), executor_def=dg.in_process_executor)
        for job in graph.jobs]
    resources = {"io_manager": DatabuildIOManager(catalog_url=catalog_url,
                                                  data_root=str(data_root or ""))}
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


__all__ = ["build_definitions", "dynamic_name", "job_asset", "upstream_datasets",
           "PartitionSelection", "FORCE_TAG", "BUILD_TAG"]
