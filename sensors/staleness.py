"""Keep what Dagster shows per partition in step with `databuild status`.

Staleness changes without any run (a taint, a new code version, an upstream rebuilt
elsewhere), so a sensor re-assesses known partitions and reports only what changed, as observations
(Dagster stores one run-less check evaluation per partition only, so checks are reported
by runs and observations by the sensor).
"""

from __future__ import annotations

import hashlib
import json

from databuild_assets.core.errors import RefError


def status_changes(previous: dict[str, str], current: dict[str, tuple[str, tuple[str, ...]]]
                   ) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Refs whose (state, reasons) differ from the fingerprint reported last time."""
    return {ref: st for ref, st in current.items() if previous.get(ref) != fingerprint(st)}


def fingerprint(st: tuple[str, tuple[str, ...]]) -> str:
    return hashlib.sha1(json.dumps(st).encode()).hexdigest()[:12]


def build_staleness_sensor(graph, interval_seconds: int = 60):
    import dagster as dg

    from databuild_assets.dagster.partitions import ref_to_key
    from databuild_assets.dagster.reporting import status_observation

    @dg.sensor(name="databuild_staleness", minimum_interval_seconds=interval_seconds,
               default_status=dg.DefaultSensorStatus.RUNNING,
               description="Reports databuild's per-partition state and reasons as asset "
                           "observations whenever they change.")
    def _sensor(context):
        previous = json.loads(context.cursor) if context.cursor else {}
        refs = [r for r in graph.known_refs() if _known(graph, r)]
        statuses = graph.status(refs)
        current = {r: (s.state, tuple(s.reasons)) for r, s in statuses.items()}
        changed = status_changes(previous, current)
        for ref in sorted(changed):
            p = graph.registry.pattern(ref)
            context.instance.report_runless_asset_event(
                status_observation(p.dataset, ref_to_key(p, ref), statuses[ref]))
        context.update_cursor(json.dumps({r: fingerprint(st) for r, st in current.items()}))
        return dg.SkipReason(f"{len(changed)} partition status change(s) reported")

    return _sensor


def _known(graph, ref: str) -> bool:
    try:
        graph.registry.parse(ref)
        return True
    except RefError:
        return False
