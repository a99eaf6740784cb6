"""pipelines.yaml checked against the pydantic models of ``pipelines_model``, every problem
one line naming its path (``pipelines[2].tasks[0].slug: unknown key 'x'; allowed: ...``).

Its own module because turning pydantic's errors into those lines (clean locations, the keys
a mapping allows, a hint per error type) is most of the work and none of the shape."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError

from .pipelines_model import (
    TASK_MODELS,
    PipelineModel,
    PipelinesFileModel,
    ScheduleModel,
    TargetModel,
)
from .tasks import TASKS


def path_of(loc: tuple) -> str:
    """('pipelines', 2, 'tasks', 0, 'slug') -> 'pipelines[2].tasks[0].slug'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _allowed_keys(data: Any, loc: tuple) -> list[str]:
    """The keys the object holding ``loc``'s last part accepts."""
    model: Any = PipelinesFileModel
    node = data
    for part in loc[:-1]:
        node = node[part] if isinstance(node, (dict, list)) else None
        if model is PipelinesFileModel and part == "pipelines":
            model = "pipelines"
        elif model == "pipelines" and isinstance(part, int):
            model = PipelineModel
        elif model is PipelineModel and part == "tasks":
            model = "tasks"
        elif model == "tasks" and isinstance(part, int):
            model = TASK_MODELS.get(node.get("slug")) if isinstance(node, dict) else None
        elif model is PipelinesFileModel and part == "targets":
            model = "targets"
        elif model == "targets":
            model = TargetModel
        elif model is PipelineModel and part == "schedule":
            model = ScheduleModel
        else:
            return []
    if isinstance(model, type) and issubclass(model, BaseModel):
        return sorted(f.alias or n for n, f in model.model_fields.items())
    return []


def _clean_loc(loc: tuple, data: Any) -> tuple:
    """Drop pydantic's union/tag parts (``'dbt-run'``, ``'str'``, ``'ScheduleModel'``)."""
    out: list = []
    node = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            out.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and not out[-1:] == [part] and \
                part not in TASK_MODELS and not part.endswith("Model") and part not in (
                    "str", "int", "float", "bool", "dict[str,any]"):
            out.append(part)  # a missing required key, or an unknown key
            node = None
    return tuple(out)


def _describe(err: dict, data: Any) -> tuple[str, str]:
    loc = _clean_loc(tuple(err["loc"]), data)
    kind, msg = err["type"], err["msg"]
    inp = err.get("input")
    if kind == "extra_forbidden":
        allowed = _allowed_keys(data, loc)
        text = f"unknown key {loc[-1]!r}" + (f"; allowed: {', '.join(allowed)}" if allowed else "")
        if loc[-1] == "password":
            text = "never put a password in the file; set 'password_env: SOME_ENV_VAR' and " \
                   "export that variable (or put it in DATABUILD_SECRETS_FILE)"
    elif kind == "missing":
        text = "is required"
    elif kind == "union_tag_invalid" or kind == "union_tag_not_found":
        loc = loc + ("slug",)
        text = (f"unknown task slug {inp.get('slug')!r}" if isinstance(inp, dict) and
                "slug" in inp else "each task needs a 'slug'") + \
            f"; known: {', '.join(sorted(TASKS))}"
    elif kind == "literal_error":
        text = f"must be {msg.removeprefix('Input should be ')}, got {inp!r}"
    elif kind in ("string_type", "int_type", "bool_type", "list_type", "dict_type",
                  "model_type", "model_attributes_type", "float_type"):
        want = {"string_type": "a string", "int_type": "an integer", "bool_type":
                "true or false", "list_type": "a list", "dict_type": "a mapping",
                "float_type": "a number"}.get(kind, "a mapping")
        text = f"must be {want}, got {type(inp).__name__} {_short(inp)}"
        if loc[-1:] == ("schedule",):
            text = f"must be a cron string like '0 6 * * *' or {{cron: ..., timezone: ...}}, " \
                   f"got {_short(inp)}"
    elif kind == "too_short":
        text = "must not be empty"
    elif kind == "value_error" and "unknown tick variable" in msg:
        inner = msg.split("Value error, ", 1)[-1]
        sub, _, rest = inner.partition(": ")
        loc = loc + tuple(_parse_sub(sub))
        text = rest
    else:
        text = msg.removeprefix("Value error, ").replace("Input should be", "must be")
        if inp is not None and not isinstance(inp, (dict, list)):
            text += f", got {_short(inp)}"
    return path_of(loc), text


def _parse_sub(sub: str) -> list:
    """'[0].vars' -> [0, 'vars']."""
    return [int(i) if i else n for i, n in re.findall(r"\[(\d+)\]|(\w+)", sub)]


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _collect(e: ValidationError, data: Any, prefix: tuple, seen: set) -> list[tuple[str, str]]:
    out = []
    for err in e.errors():
        item = _describe({**err, "loc": prefix + tuple(err["loc"])}, data)
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def validate(data: Any) -> tuple[PipelinesFileModel | None, list[tuple[str, str]]]:
    """(model, [(path, message), ...]), one entry per problem. The top level and each
    pipeline are checked on their own, so one bad pipeline does not hide the problems of the
    others; the model then holds the parts that passed (``partial`` when the top level did
    not) and the caller's cross-field rules run on those."""
    if not isinstance(data, dict):
        return None, [("(top level)", "must be a mapping with targets:, connections: and "
                       f"pipelines:, got {type(data).__name__}")]
    seen: set = set()
    raw = data.get("pipelines")
    if not isinstance(raw, list):
        try:
            return PipelinesFileModel.model_validate(data), []
        except ValidationError as e:
            return None, _collect(e, data, (), seen)
    problems: list[tuple[str, str]] = []
    try:
        model = PipelinesFileModel.model_validate({k: v for k, v in data.items()
                                                   if k != "pipelines"})
    except ValidationError as e:
        problems += _collect(e, data, (), seen)
        model = PipelinesFileModel.model_construct(dbt_project_dir=None, targets={},
                                                   connections={}, pipelines=[])
        model._partial = True
    good = []
    for i, p in enumerate(raw):
        try:
            good.append((i, PipelineModel.model_validate(p)))
        except ValidationError as e:
            problems += _collect(e, data, ("pipelines", i), seen)
    model.pipelines = [p for _, p in good]
    model._positions = [i for i, _ in good]
    return model, problems
