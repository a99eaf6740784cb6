"""The rules of a pipelines file that span fields: targets and connections that exist, names
unique after sanitizing (Dagster job and op names), valid cron and time zone, the dbt project
folder, the order of dbt tasks. Run on the parts that passed the pydantic models and, as far
as their values are well-typed, on those that did not, so a file's problems come in one pass."""

from __future__ import annotations

import zoneinfo
from pathlib import Path

from databuild_assets.core.errors import ConfigError

from .pipelines_model import PipelinesFileModel
from .pipelines_types import (
    ORDER_TEXT,
    PHASES,
    WORK_ORDER,
    Pipeline,
    PipelineFile,
    Task,
    order_tasks,
    sanitize,
)
from .targets import WarehouseTarget


def _task_name(slug: str, params: dict, seen: dict[str, int]) -> str:
    base = slug + (f":{params['connection']}" if params.get("connection") else "")
    seen[base] = seen.get(base, 0) + 1
    return base if seen[base] == 1 else f"{base}#{seen[base]}"


def build(m: PipelinesFileModel, path: Path, is_valid_cron_schedule, declared_targets: set[str] = frozenset(),
          raw_pipelines: list | None = None) -> tuple[PipelineFile, list[str]]:
    """The PipelineFile of a validated model and the problems that span fields;
    ``is_valid_cron_schedule``: Dagster's cron validator (handed in by the loader)."""
    errors: list[str] = []
    pf = PipelineFile(path)
    base = path.parent
    for name, t in m.targets.items():
        spec = t.model_dump(by_alias=True, exclude_none=True)
        if t.type == "duckdb" and not t.path:
            errors.append(f"targets.{name}.path: is required for a duckdb target")
            continue
        if t.type == "postgres" and not t.database:
            errors.append(f"targets.{name}.database: is required for a postgres target")
            continue
        pf.targets[name] = WarehouseTarget.from_dict(name, spec, base)
    for name, spec in m.connections.items():
        from .airbyte import AirbyteConnection

        try:
            AirbyteConnection.from_dict(name, spec)
            pf.connections[name] = spec
        except ConfigError as e:
            errors.append(f"connections.{name}: {e}")
    uses_dbt = any(t.slug.startswith("dbt-") for p in m.pipelines for t in p.tasks)
    if m.partial:  # the top level has problems of its own, reported already
        pass
    elif m.dbt_project_dir is not None:
        pf.dbt_project_dir = (base / m.dbt_project_dir).resolve()
        if not (pf.dbt_project_dir / "dbt_project.yml").is_file():
            errors.append(f"dbt_project_dir: {pf.dbt_project_dir} holds no dbt_project.yml; "
                          "give the folder of your dbt project, relative to this file")
    elif uses_dbt:
        errors.append("dbt_project_dir: is required when a pipeline has dbt tasks (the folder "
                      "holding dbt_project.yml, relative to this file)")
    dagster_names: dict[str, str] = {}
    op_names: dict[str, str] = {}
    positions = m.positions if m.positions is not None else list(range(len(m.pipelines)))
    targets = set(m.targets) | set(declared_targets)
    good = dict(zip(positions, m.pipelines, strict=True))
    for i, raw in enumerate(raw_pipelines if raw_pipelines is not None else m.pipelines):
        where = f"pipelines[{i}]"
        p = good.get(i)
        if p is None:  # its shape is wrong (reported); still check what can be checked
            errors += _raw_rules(raw, where, targets, dagster_names, is_valid_cron_schedule)
            continue
        clash = dagster_names.get(sanitize(p.name))
        if clash is not None:
            errors.append(f"{where}.name: {p.name!r} is the same Dagster name "
                          f"({sanitize(p.name)}) as {clash}; rename one")
        else:
            dagster_names[sanitize(p.name)] = f"{where} {p.name!r}"
        if p.target not in targets:
            errors.append(f"{where}.target: unknown target {p.target!r}; declared targets: "
                          f"{', '.join(sorted(targets)) or 'none'}")
        cron, tz = (p.schedule.cron, p.schedule.timezone) if p.schedule else (None, "UTC")
        errors += _schedule_errors(cron, tz, where, is_valid_cron_schedule)
        tasks, seen = [], {}
        for j, t in enumerate(p.tasks):
            params = t.model_dump(exclude_none=True, exclude={"slug"})
            conn = params.get("connection")
            if conn is not None and conn not in m.connections:
                errors.append(f"{where}.tasks[{j}].connection: unknown connection {conn!r}; "
                              f"declared: {', '.join(sorted(m.connections)) or 'none'}")
            task = Task(t.slug, params, _task_name(t.slug, params, seen), j)
            op = sanitize(f"{p.name}__{task.name}")
            if op in op_names and clash is None:  # a name clash is reported once, above
                errors.append(f"{where}.tasks[{j}]: its Dagster op name {op} is already used by "
                              f"{op_names[op]}; rename the pipeline or the connection")
            op_names[op] = f"{where}.tasks[{j}]"
            tasks.append(task)
        errors += _order_errors(tasks, where)
        ordered = order_tasks(tasks)
        pf.warnings += [f"{where}.tasks[{t.index}]: {t.slug} runs before tasks declared "
                        "above it (setup tasks always run first)"
                        for k, t in enumerate(ordered) if t.slug in PHASES and
                        any(o.index < t.index for o in ordered[k + 1:])]
        pf.pipelines[p.name] = Pipeline(
            p.name, p.target, tuple(ordered), cron, tz, p.continue_on_sync_failure,
            p.dbt_test_failures, p.description, p.lock)
    return pf, errors


def _schedule_errors(cron, tz, where: str, is_valid_cron) -> list[str]:
    errors = []
    if isinstance(cron, str) and not is_valid_cron(cron):
        errors.append(f"{where}.schedule.cron: {cron!r} is not a valid cron; use 5 fields "
                      "(minute hour day month weekday) like '0 6 * * *'")
    if isinstance(tz, str) and not _valid_timezone(tz):
        errors.append(f"{where}.schedule.timezone: unknown time zone {tz!r}; use an IANA "
                      "name like 'UTC' or 'Europe/Paris'")
    return errors


def _raw_rules(raw, where: str, targets: set[str], dagster_names: dict, is_valid_cron
               ) -> list[str]:
    """The cross-field rules on a pipeline whose shape is wrong, for the values that are
    well-typed, so a file's problems come in one pass."""
    if not isinstance(raw, dict):
        return []
    errors = []
    name = raw.get("name")
    if isinstance(name, str) and name:
        clash = dagster_names.get(sanitize(name))
        if clash is not None:
            errors.append(f"{where}.name: {name!r} is the same Dagster name ({sanitize(name)}) "
                          f"as {clash}; rename one")
        else:
            dagster_names[sanitize(name)] = f"{where} {name!r}"
    target = raw.get("target")
    if isinstance(target, str) and target not in targets:
        errors.append(f"{where}.target: unknown target {target!r}; declared targets: "
                      f"{', '.join(sorted(targets)) or 'none'}")
    sched = raw.get("schedule")
    if isinstance(sched, str):
        errors += _schedule_errors(sched, "UTC", where, is_valid_cron)
    elif isinstance(sched, dict):
        errors += _schedule_errors(sched.get("cron"), sched.get("timezone", "UTC"), where,
                                   is_valid_cron)
    tasks = raw.get("tasks")
    if isinstance(tasks, list):
        errors += _order_errors([Task(t["slug"], {}, t["slug"], j) for j, t in enumerate(tasks)
                                 if isinstance(t, dict) and isinstance(t.get("slug"), str)],
                                where)
    return errors


def _order_errors(tasks: list[Task], where: str) -> list[str]:
    errors, latest = [], None
    for t in tasks:
        rank = WORK_ORDER.get(t.slug)
        if rank is None:
            continue
        if latest is not None and rank < WORK_ORDER[latest.slug]:
            errors.append(f"{where}.tasks[{t.index}].slug: {t.slug} is declared after "
                          f"{latest.slug} (tasks[{latest.index}]); dbt tasks run in the order "
                          f"{ORDER_TEXT}: move it up")
            continue
        latest = t
    return errors


def _valid_timezone(tz: str) -> bool:
    try:
        zoneinfo.ZoneInfo(tz)
        return True
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # unknown, malformed, a folder
        return False
