"""What a user sees in Dagster for a partition: metadata, data version, freshness check."""

from __future__ import annotations

import dagster as dg

from ..core.manifest import PartitionManifest
from ..core.staleness import Status

CHECK_NAME = "databuild_fresh"
PREVIEW_ROWS = 5


def asset_key(dataset: str) -> dg.AssetKey:
    return dg.AssetKey(dataset.split("/"))


def manifest_metadata(m: PartitionManifest, data_root, preview=None, skipped: bool = False) -> dict:
    meta = {
        "databuild/ref": dg.MetadataValue.text(m.ref),
        "dagster/row_count": dg.MetadataValue.int(int(m.row_count or 0)),
        "data_version": dg.MetadataValue.text(m.data_version),
        "config_hash": dg.MetadataValue.text(m.config_hash),
        "manifest_id": dg.MetadataValue.text(m.manifest_id),
        "job": dg.MetadataValue.text(f"{m.job}@{m.code_version}"),
        "dataset_version": dg.MetadataValue.text(m.dataset_version),
        "build_id": dg.MetadataValue.text(m.build_id),
        "path": dg.MetadataValue.path(str(data_root / m.path)),
        "inputs": dg.MetadataValue.json(
            [{"ref": i.ref, "type": i.dep_type, "data_version": i.data_version,
              "manifest_id": i.manifest_id} for i in m.inputs]),
    }
    if skipped:
        meta["databuild/skipped"] = dg.MetadataValue.text(
            "already live and fresh: not rebuilt (reported so Dagster shows the live version)")
    if preview is not None:
        meta["preview"] = dg.MetadataValue.md(preview.head(PREVIEW_ROWS).to_markdown(index=False))
    for k, v in (m.metadata or {}).items():
        if isinstance(v, (int, float, str, bool)):
            meta[f"job/{k}"] = v
    return meta


def materialization(dataset: str, key: str | None, m: PartitionManifest, data_root,
                    preview=None, skipped: bool = False) -> dg.AssetMaterialization:
    return dg.AssetMaterialization(
        asset_key=asset_key(dataset), partition=key,
        metadata=manifest_metadata(m, data_root, preview, skipped),
        tags={"dagster/data_version": m.data_version, "dagster/code_version": m.code_version,
              "databuild/manifest_id": m.manifest_id})


def freshness_evaluation(dataset: str, key: str | None, st: Status) -> dg.AssetCheckEvaluation:
    return dg.AssetCheckEvaluation(
        asset_key=asset_key(dataset), check_name=CHECK_NAME, passed=st.state == "live",
        partition=key, severity=dg.AssetCheckSeverity.WARN,
        metadata={"state": dg.MetadataValue.text(st.state),
                  "reasons": dg.MetadataValue.text("\n".join(st.reasons) or "live and fresh")})


def status_observation(dataset: str, key: str | None, st: Status) -> dg.AssetObservation:
    return dg.AssetObservation(
        asset_key=asset_key(dataset), partition=key,
        metadata={"databuild/state": dg.MetadataValue.text(st.state),
                  "databuild/reasons": dg.MetadataValue.text("\n".join(st.reasons) or "-")})
