"""Tell the Dagster instance about partitions built outside it (by `databuild build`),
so the UI shows every live partition with its manifest and data version."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from ..core import Graph, PartitionManifest
from .assets import dynamic_partitions_name
from .partitions import ref_to_key
from .reporting import materialization, status_observation

DEFAULT_DAGSTER_YAML = """\
# Embedded defaults: SQLite storage under this folder. See deploy/dagster.yaml for PostgreSQL.
telemetry:
  enabled: false
concurrency:
  pools:
    granularity: op
    default_limit: 1   # task locks: airbyte:<conn>, git:<repo>, dbt:<project>:<target>
  runs:
    max_concurrent_runs: 2
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
run_monitoring:      # runs whose worker died are marked failed (and their pool slots freed)
  enabled: true
  start_timeout_seconds: 180
  max_resume_run_attempts: 0
  poll_interval_seconds: 30
run_retries:         # by failure class: databuild_assets/dagster/retries.py sets the tag
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
"""


def ensure_instance(dagster_home: Path) -> dg.DagsterInstance:
    dagster_home.mkdir(parents=True, exist_ok=True)
    cfg = dagster_home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DEFAULT_DAGSTER_YAML)
    return dg.DagsterInstance.from_config(str(dagster_home))


def report_manifests(graph: Graph, manifests: list[PartitionManifest],
                     instance: dg.DagsterInstance) -> int:
    dynamic: dict[str, set[str]] = {}
    events = []
    statuses = graph.status([m.ref for m in manifests])
    for m in manifests:
        pattern = graph.registry.pattern(m.ref)
        job = graph.registry.producer[pattern.dataset]
        key = ref_to_key(pattern, m.ref)
        name = dynamic_partitions_name(job)
        if name and key:
            dynamic.setdefault(name, set()).add(key)
        events.append(materialization(pattern.dataset, key, m, graph.data_root))
        events.append(status_observation(pattern.dataset, key, statuses[m.ref]))
    for name, keys in dynamic.items():
        instance.add_dynamic_partitions(name, sorted(keys))
    for ev in events:
        instance.report_runless_asset_event(ev)
    return len(events)
