"""pipelines.yaml: targets, connections and pipelines, validated with one error per problem.

Order is enforced when a pipeline is built: Airbyte tasks first in declared order, then git
(pull; clone when no checkout exists yet), dbt clean, dbt deps, then the user's dbt and
shell tasks in declared order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from databuild_assets.core.errors import ConfigError

from .targets import WarehouseTarget
from .tasks import validate_params

PHASES = {"airbyte-clear": 0, "airbyte-sync": 0, "git-clone": 1, "git-pull": 1,
          "dbt-clean": 2, "dbt-deps": 3}
USER_PHASE = 4


@dataclass(frozen=True)
class Task:
    slug: str
    params: dict
    name: str  # unique within the pipeline, e.g. "airbyte-sync:reviews"


@dataclass(frozen=True)
class Pipeline:
    name: str
    target: str
    tasks: tuple[Task, ...]
    cron: str | None = None
    timezone: str = "UTC"
    continue_on_sync_failure: bool = False
    dbt_test_failures: str = "fail"  # warn | fail
    description: str = ""


@dataclass
class PipelineFile:
    path: Path
    targets: dict[str, WarehouseTarget] = field(default_factory=dict)
    connections: dict[str, dict] = field(default_factory=dict)
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    dbt_project_dir: Path | None = None

    def pipeline(self, name: str) -> Pipeline:
        if name not in self.pipelines:
            raise ConfigError(f"no pipeline {name!r} in {self.path}; known: "
                              f"{', '.join(sorted(self.pipelines)) or 'none'}")
        return self.pipelines[name]


def order_tasks(tasks: list[Task]) -> list[Task]:
    """Stable sort by phase: declared order is kept within a phase."""
    return sorted(tasks, key=lambda t: PHASES.get(t.slug, USER_PHASE))


def _valid_cron(expr: str) -> bool:
    try:
        from croniter import croniter
    except ImportError:  # dagster depends on croniter; keep a cheap fallback anyway
        return len(expr.split()) == 5
    return croniter.is_valid(expr)


def _task_name(slug: str, params: dict, seen: dict[str, int]) -> str:
    base = slug + (f":{params['connection']}" if "connection" in params else "")
    seen[base] = seen.get(base, 0) + 1
    return base if seen[base] == 1 else f"{base}#{seen[base]}"


def load(path: str | Path) -> PipelineFile:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"pipelines file {path} not found; pass --file PATH")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from None
    pf, errors = parse(data, path)
    if errors:
        raise ConfigError(f"{path} has {len(errors)} problem(s):\n  - " + "\n  - ".join(errors))
    return pf


def parse(data: dict, path: Path) -> tuple[PipelineFile, list[str]]:
    errors: list[str] = []
    pf = PipelineFile(path)
    base = path.parent
    if "dbt_project_dir" in data:
        pf.dbt_project_dir = (base / data["dbt_project_dir"]).resolve()
    for name, spec in (data.get("targets") or {}).items():
        try:
            pf.targets[name] = WarehouseTarget.from_dict(name, spec or {}, base)
        except ConfigError as e:
            errors.append(str(e))
    for name, spec in (data.get("connections") or {}).items():
        from .airbyte import AirbyteConnection

        try:
            AirbyteConnection.from_dict(name, spec or {})
            pf.connections[name] = spec or {}
        except ConfigError as e:
            errors.append(str(e))
    names: set[str] = set()
    for i, p in enumerate(data.get("pipelines") or []):
        where = f"pipeline #{i + 1}" + (f" {p.get('name')!r}" if isinstance(p, dict) else "")
        if not isinstance(p, dict) or not p.get("name"):
            errors.append(f"{where}: needs a name")
            continue
        if p["name"] in names:
            errors.append(f"{where}: duplicate pipeline name {p['name']!r}")
        names.add(p["name"])
        if p.get("target") not in pf.targets:
            errors.append(f"{where}: unknown target {p.get('target')!r}; declared targets: "
                          f"{', '.join(sorted(pf.targets)) or 'none'}")
        cron, tz = _schedule(p.get("schedule"), where, errors)
        policy = p.get("dbt_test_failures", "fail")
        if policy not in ("warn", "fail"):
            errors.append(f"{where}: dbt_test_failures must be 'warn' or 'fail', got {policy!r}")
        tasks, seen = [], {}
        for j, t in enumerate(p.get("tasks") or []):
            tw = f"{where} task #{j + 1}"
            if not isinstance(t, dict) or "slug" not in t:
                errors.append(f"{tw}: each task needs a 'slug'")
                continue
            params = {k: v for k, v in t.items() if k != "slug"}
            errs = validate_params(t["slug"], params, tw)
            errors += errs
            if not errs and "connection" in params and params["connection"] not in pf.connections:
                errors.append(f"{tw}: unknown connection {params['connection']!r}; declared: "
                              f"{', '.join(sorted(pf.connections)) or 'none'}")
            tasks.append(Task(t["slug"], params, _task_name(t["slug"], params, seen)))
        if not tasks:
            errors.append(f"{where}: has no tasks")
        pf.pipelines[p["name"]] = Pipeline(
            p["name"], p.get("target", ""), tuple(order_tasks(tasks)), cron, tz,
            bool(p.get("continue_on_sync_failure", False)), policy, p.get("description", ""))
    return pf, errors


def _schedule(spec, where: str, errors: list[str]) -> tuple[str | None, str]:
    if spec is None:
        return None, "UTC"
    cron, tz = (spec, "UTC") if isinstance(spec, str) else (spec.get("cron"), spec.get(
        "timezone", "UTC"))
    if not cron or not _valid_cron(cron):
        errors.append(f"{where}: bad cron {cron!r}; use 5 fields like '0 6 * * *'")
    try:
        import zoneinfo

        zoneinfo.ZoneInfo(tz)
    except Exception:
        errors.append(f"{where}: unknown timezone {tz!r}")
    return cron, tz
