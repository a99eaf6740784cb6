"""What one Dagster step of a databuild multi-asset does: choose its refs, build those whose
inputs are live, record the others failed with their reasons, and tell Dagster exactly one
thing per partition (a materialization when built, an observation otherwise)."""

from __future__ import annotations

import uuid

import dagster as dg

from ..core import Graph
from ..core.catalog import Event
from ..core.config import DepType
from ..core.errors import DatabuildError, MissingInputError
from .mappings import run_needs
from .partitions import key_to_ref, ref_to_key
from .reporting import CHECK_NAME, asset_key, materialization
from .run_contract import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    BACKFILL_ID_TAG,
    BUILD_TAG,
    NO_AUTO_EVENTS,
    PARTITION_NAME_TAG,
    plan_failed_partitions,
)

# NO_AUTO_EVENTS on an output makes Dagster store no asset event for it (its own switch for
# assets that report their events themselves). Each partition then gets its own event with
# its own data version, instead of one per output for the whole range.


def _run_keys(context, pdef) -> list[str]:
    """The run's partition keys as they apply to another asset of the run."""
    tags = context.run.tags
    try:
        if PARTITION_NAME_TAG in tags:
            return [tags[PARTITION_NAME_TAG]] if pdef.has_partition_key(
                tags[PARTITION_NAME_TAG]) else []
        if ASSET_PARTITION_RANGE_START_TAG in tags:
            return list(pdef.get_partition_keys_in_range(dg.PartitionKeyRange(
                tags[ASSET_PARTITION_RANGE_START_TAG], tags[ASSET_PARTITION_RANGE_END_TAG])))
    except Exception:  # noqa: BLE001 - another partitioning (dynamic, foreign key): not ours to expand
        return []
    return []


def step_refs(context, graph: Graph, patterns: dict, pdef) -> tuple[list[str], list[str]]:
    """(refs of the run's keys, extra refs that other assets of the same run need from this
    step: a trailing window's earlier days when the run also selects the window's asset)."""
    keys = context.partition_keys if pdef is not None else [None]
    own = [key_to_ref(patterns[k], p) for k in context.selected_asset_keys for p in keys]
    layer = context.job_def.asset_layer
    run_keys = context.run.asset_selection or layer.executable_asset_keys
    selected, requested = set(), list(own)
    for key in run_keys:
        ds = "/".join(key.path)
        if ds not in graph.registry.patterns:
            continue
        selected.add(ds)
        if key in patterns:
            continue
        pat, other = graph.registry.patterns[ds], layer.get(key).partitions_def
        if other is None:
            requested.append(pat.format())
        else:
            requested += [key_to_ref(pat, k) for k in (keys if other == pdef and pdef
                                                       else _run_keys(context, other))]
    mine = {patterns[k].dataset for k in context.selected_asset_keys}
    needs = run_needs(graph.registry, selected, requested)
    extra = sorted(r for r in needs - set(own) if graph.registry.dataset(r) in mine)
    return own, extra


def unmet_inputs(graph: Graph, job, refs: list[str], force: bool) -> dict[str, str]:
    """Refs (not live, or forced) whose MATERIALIZE inputs are not live: ref -> reason."""
    now = graph.status(refs)
    todo = [r for r in refs if force or now[r].state != "live"]
    if not todo:
        return {}
    needs: dict[str, list[str]] = {}
    for c in job.configure(todo) or []:
        for out in c.outputs & set(todo):
            keep = job.inputs_of(c, out)
            needs[out] = sorted(d.ref for d in c.inputs if d.dep_type is DepType.MATERIALIZE
                                and (keep is None or d.ref in keep))
    inputs = sorted({i for v in needs.values() for i in v})
    st = graph.status(inputs) if inputs else {}
    out = {}
    for ref, ins in needs.items():
        bad = [i for i in ins if st[i].state not in ("live", "building")]
        if bad:
            out[ref] = str(MissingInputError(bad, reasons={i: (st[i].state,) for i in bad}))
    return out


def run_step(context, graph: Graph, job, refs: list[str], force: bool, build_id: str | None):
    """Build what can be built; (result or None, failed refs -> reason)."""
    unmet = unmet_inputs(graph, job, refs, force)
    ready = [r for r in refs if r not in unmet]
    result = None
    if ready:
        try:
            result = graph.build(ready, force=force, origin="dagster", upstream=False,
                                 run_id=context.run_id, build_id=build_id, logger=context.log)
        except MissingInputError as e:  # an input went away meanwhile
            unmet.update({r: str(e) for r in ready})
        except DatabuildError as e:
            raise dg.Failure(description=str(e)) from None
    if unmet:
        bid = result.build_id if result else (build_id or uuid.uuid4().hex[:12])
        cat = graph.catalog
        if result is None:
            cat.start_build(bid, refs, origin="dagster")
        for r, why in sorted(unmet.items()):
            cat.fail({r: graph.registry.dataset(r)}, bid, why,
                     [Event(bid, "failed", r, job.label, {"error": why})])
        if result is None:
            cat.finish_build(bid, "failed")
    failed = dict(unmet)
    if result is not None:
        failed.update(result.failed)
        failed.update(result.blocked)
    return result, failed


def _known_manifests(instance, akey, keys) -> dict:
    """partition key -> manifest id of Dagster's latest materialization of it."""
    keys = [k for k in keys if k is not None]
    if not keys:
        return {}
    recs = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=akey, asset_partitions=keys),
        limit=max(100, 4 * len(keys))).records
    out = {}
    for rec in recs:  # newest first
        m = rec.asset_materialization
        out.setdefault(m.partition, m.tags.get("databuild/manifest_id"))
    return out


def report(context, graph: Graph, refs, result, failed: dict[str, str]):
    """Log one event per partition, then hand Dagster the outputs without auto-events so
    later steps of the run go ahead; raise when partitions failed (named with reasons)."""
    built = {m.ref: m for m in result.manifests} if result else {}
    statuses = graph.status(refs)
    live_ids = [s.manifest_id for r, s in statuses.items() if r not in built and s.manifest_id]
    manifests = graph.catalog.manifests(live_ids)
    known: dict = {}
    # Dagster's asset backfill counts a partition done only when one of its own runs
    # materialized it: there a partition already live (built by the sensors, a schedule or
    # `databuild build` meanwhile) is recorded as a materialization tagged skipped, same data
    # version, else the backfill ends failed with every partition live.
    backfill = BACKFILL_ID_TAG in context.run.tags
    for ref in refs:
        p = graph.registry.pattern(ref)
        key, st, akey = ref_to_key(p, ref), statuses[ref], asset_key(p.dataset)
        if ref in built:
            context.log_event(materialization(p.dataset, key, built[ref], graph.data_root))
            passed, reasons = True, "live and fresh"
        elif ref not in failed and st.state == "live" and st.manifest_id in manifests:
            if akey not in known:
                known[akey] = _known_manifests(context.instance, akey, [
                    ref_to_key(p, r) for r in refs if graph.registry.dataset(r) == p.dataset])
            m = manifests[st.manifest_id]
            if known[akey].get(key) == m.manifest_id and not backfill:
                context.log_event(dg.AssetObservation(asset_key=akey, partition=key, metadata={
                    "databuild/state": "live", "databuild/skipped":
                        "already live and fresh: not rebuilt", "manifest_id": m.manifest_id,
                    "data_version": m.data_version}))
            else:  # not reported yet (built outside Dagster), or for a backfill's bookkeeping
                context.log_event(materialization(p.dataset, key, m, graph.data_root,
                                                  skipped=True))
            passed, reasons = True, "live and fresh"
        else:
            why = failed.get(ref) or f"{st.state}: " + "; ".join(st.reasons)
            failed.setdefault(ref, why)
            context.log_event(dg.AssetObservation(asset_key=akey, partition=key, metadata={
                "databuild/state": "failed", "databuild/reasons": dg.MetadataValue.text(why)}))
            passed, reasons = False, why
        context.log_event(dg.AssetCheckEvaluation(
            asset_key=akey, check_name=CHECK_NAME, passed=passed, partition=key,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"state": dg.MetadataValue.text("live" if passed else "failed"),
                      "reasons": dg.MetadataValue.text(reasons)}))
    if not failed:
        for akey in sorted(context.selected_asset_keys, key=lambda k: k.path):
            yield dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_key(
                akey), metadata={NO_AUTO_EVENTS: True, "databuild/partitions": len(refs)})
        return
    if BUILD_TAG in context.run.tags:  # build --dagster: one planned event per asset
        by_asset: dict = {}
        for ref in failed:
            p = graph.registry.pattern(ref)
            by_asset.setdefault(asset_key(p.dataset), []).append(ref_to_key(p, ref))
        for akey, keys in by_asset.items():
            plan_failed_partitions(context, akey, keys)
    first = sorted(failed.items())[0]
    raise dg.Failure(
        description=f"{len(failed)} of {len(refs)} partition(s) failed ({len(built)} built); "
                    f"first: {first[0]}: {first[1]}",
        metadata={"failed": dg.MetadataValue.json(dict(sorted(failed.items()))),
                  "built": dg.MetadataValue.int(len(built))})
