"""pipelines.yaml loaded into plain objects (``pipelines_types``): shape checked by the pydantic
models in ``pipelines_model`` (messages from ``pipelines_validation``), then the rules that
span fields (``pipelines_rules``: known targets and connections, names unique after
sanitizing, Dagster's cron validator, the dbt project folder, task order).

The public names of the pipelines file are importable from here.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from .pipelines_rules import build
from .pipelines_types import (
    ORDER_TEXT,
    PHASES,
    USER_PHASE,
    WORK_ORDER,
    Pipeline,
    PipelineFile,
    PipelinesConfigError,
    Task,
    order_tasks,
    sanitize,
)
from .pipelines_validation import path_of, validate


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
    pf, more = build(model, path, is_valid_cron, declared, raw)
    return pf, sorted(errors + more, key=_natural)


_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))


def is_valid_cron(cron) -> bool:
    """Dagster's cron validator, without importing Dagster (a second) for the plain case:
    five fields, each ``*`` or one number in its range (``0 6 * * *``), which Dagster
    accepts; everything else (steps, lists, ranges, names, macros) is Dagster's call."""
    fields = cron.split() if isinstance(cron, str) else []
    if len(fields) == 5 and all(f == "*" or (f.isascii() and f.isdigit() and lo <= int(f) <= hi)
                                for f, (lo, hi) in zip(fields, _CRON_RANGES, strict=True)):
        if fields[3] != "2" or fields[2] not in ("30", "31"):  # 30/31 February: Dagster says no
            return True
    from dagster._utils.schedules import is_valid_cron_schedule

    return is_valid_cron_schedule(cron)


def _natural(problem: str) -> list:
    """'pipelines[10].x' after 'pipelines[2].x': by path, numbers as numbers."""
    where = problem.split(": ", 1)[0]
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", where)]


__all__ = ["PipelinesConfigError", "PipelineFile", "Pipeline", "Task", "load", "parse",
           "order_tasks", "sanitize", "path_of", "read_yaml", "PHASES", "USER_PHASE", "WORK_ORDER",
           "ORDER_TEXT"]
