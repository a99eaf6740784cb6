"""pipelines.yaml loaded into plain objects: shape checked by the pydantic models in
``pipelines_model``, then the rules that span fields (known targets and connections, names
unique after sanitizing, Dagster's cron validator, the dbt project folder, task order).

Task order (docs/pipelines.md): setup tasks run first whatever their place in the file
(Airbyte in declared order, then git, dbt clean, dbt deps); the dbt work tasks must be
declared in the order seed -> run/build -> test -> docs-generate (an error otherwise);
shell tasks keep their place among the work tasks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from databuild_assets.core.errors import ConfigError

from .pipelines_model import PipelinesFileModel, path_of, validate
from .targets import WarehouseTarget

PHASES = {"airbyte-clear": 0, "airbyte-sync": 0, "git-clone": 1, "git-pull": 1,
          "dbt-clean": 2, "dbt-deps": 3}
USER_PHASE = 4
WORK_ORDER = {"dbt-seed": 0, "dbt-run": 1, "dbt-build": 1, "dbt-test": 2, "dbt-docs-generate": 3}
ORDER_TEXT = "clean -> deps -> seed -> run/build -> test -> docs-generate"


class PipelinesConfigError(ConfigError):
    """A pipelines file that cannot be used; str() is the whole message, one line a problem."""

    def __init__(self, path: Path, problems: list[str]):
        self.path, self.problems = path, problems
        super().__init__(f"{path} has {len(problems)} problem(s):\n  - " +
                         "\n  - ".join(problems) if len(problems) != 1 else
                         f"{path}: {problems[0]}")


@dataclass(frozen=True)
class Task:
    slug: str
    params: dict
    name: str  # unique within the pipeline, e.g. "airbyte-sync:reviews"
    index: int = 0  # position in the file, for messages


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
    lock: str = "task"  # task | pipeline

    @property
    def dagster_name(self) -> str:
        return sanitize(self.name)


@dataclass
class PipelineFile:
    path: Path
    targets: dict[str, WarehouseTarget] = field(default_factory=dict)
    connections: dict[str, dict] = field(default_factory=dict)
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    dbt_project_dir: Path | None = None
    warnings: list[str] = field(default_factory=list)

    def pipeline(self, name: str) -> Pipeline:
        if name not in self.pipelines:
            raise ConfigError(f"no pipeline {name!r} in {self.path}; known: "
                              f"{', '.join(sorted(self.pipelines)) or 'none'}")
        return self.pipelines[name]


def sanitize(name: str) -> str:
    """The Dagster-safe form of a name (jobs, ops, schedules)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", name)


def order_tasks(tasks: list[Task]) -> list[Task]:
    """Stable sort by phase: declared order is kept within a phase."""
    return sorted(tasks, key=lambda t: PHASES.get(t.slug, USER_PHASE))


def _task_name(slug: str, params: dict, seen: dict[str, int]) -> str:
    base = slug + (f":{params['connection']}" if params.get("connection") else "")
    seen[base] = seen.get(base, 0) + 1
    return base if seen[base] == 1 else f"{base}#{seen[base]}"


class _UniqueKeyLoader(yaml.SafeLoader):
    """A key written twice in one mapping is an error, not 'the last one wins'."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            mark = key_node.start_mark
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} appears twice in one mapping", mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
                                 _construct_mapping)


def read_yaml(path: Path):
    try:
        return yaml.load(path.read_text(), Loader=_UniqueKeyLoader)  # noqa: S506 (safe subclass)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        what = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise PipelinesConfigError(path, [f"not valid YAML{where}: {what}"]) from None


def load(path: str | Path) -> PipelineFile:
    """Load and check a pipelines file; raises PipelinesConfigError listing every problem."""
    path = Path(path)
    if not path.is_file():
        raise PipelinesConfigError(path, ["file not found; pass --file PATH or set "
                                          "DATABUILD_PIPELINES_FILE"])
    pf, errors = parse(read_yaml(path) or {}, path)
    if errors:
        raise PipelinesConfigError(path, errors)
    return pf


def parse(data, path: Path) -> tuple[PipelineFile, list[str]]:
    """(PipelineFile, ["path: problem", ...]); pure apart from checking dbt_project_dir."""
    model, problems = validate(data)
    errors = [f"{p}: {m}" for p, m in problems]
    if model is None:
        return PipelineFile(path), errors
    declared = set(data.get("targets") or {}) if isinstance(data.get("targets"), dict) else set()
    raw = data.get("pipelines") if isinstance(data.get("pipelines"), list) else None
    pf, more = _build(model, path, declared, raw)
    return pf, sorted(errors + more, key=_natural)


def _natural(problem: str) -> list:
    """'pipelines[10].x' after 'pipelines[2].x': by path, numbers as numbers."""
    where = problem.split(": ", 1)[0]
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", where)]


def _build(m: PipelinesFileModel, path: Path, declared_targets: set[str] = frozenset(),
           raw_pipelines: list | None = None) -> tuple[PipelineFile, list[str]]:
    from dagster._utils.schedules import is_valid_cron_schedule

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
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(tz)
        return True
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # unknown, malformed, a folder
        return False


__all__ = ["PipelinesConfigError", "PipelineFile", "Pipeline", "Task", "load", "parse",
           "order_tasks", "sanitize", "path_of"]
