"""The shape of pipelines.yaml as pydantic models: unknown keys are refused, types are strict,
and every problem becomes one line naming its path (``pipelines[2].tasks[0].slug``).

Pure: no Dagster run, no dbt. Cross-field rules (targets and connections that exist, names
unique after sanitizing, task order, the dbt project folder) live in ``pipelines_rules``.
"""

from __future__ import annotations

import functools
import operator
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    create_model,
    field_validator,
)

from .tasks import TASKS

TICK_VARS = ("scheduled_date", "data_interval_start", "data_interval_end",
             "data_interval_start_date", "data_interval_end_date")
_PLACEHOLDER = re.compile(r"\{\{\s*([^}]*?)\s*\}\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


Scalar = StrictStr | StrictInt | float | StrictBool


class TargetModel(_Strict):
    """A warehouse dbt writes to. Secrets by variable name only."""

    type: Literal["duckdb", "postgres"] = Field(description="dbt adapter: duckdb or postgres")
    path: StrictStr | None = Field(None, description="duckdb: database file, relative to the "
                                   "pipelines file; its folder is created")
    host: StrictStr = "127.0.0.1"
    port: StrictInt = Field(5432, ge=1, le=65535)
    user: StrictStr = "postgres"
    database: StrictStr | None = Field(None, description="postgres: database name")
    schema_: StrictStr = Field("main", alias="schema", description="schema dbt builds into "
                               "(postgres: 'main' means 'public')")
    password_env: StrictStr = Field("", description="environment variable (or secrets-file "
                                    "key) holding the password; never the password itself")
    threads: StrictInt = Field(2, ge=1, le=64)

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class ScheduleModel(_Strict):
    cron: StrictStr = Field(description="5-field cron, checked with Dagster's validator")
    timezone: StrictStr = Field("UTC", description="IANA time zone of the cron")


def _param_type(kind: str, name: str):
    if name in ("args", "flags", "streams"):
        return list[StrictStr]
    if name == "env":
        return dict[StrictStr, Scalar]
    if name == "options":
        return dict[StrictStr, Scalar]
    if name == "vars":
        return dict[StrictStr, Any]
    if name == "timeout":
        return Annotated[StrictInt, Field(gt=0)]
    return {"str": StrictStr, "int": StrictInt, "bool": StrictBool, "list": list,
            "dict": dict}[kind]


def _task_model(slug: str) -> type[BaseModel]:
    fields: dict[str, Any] = {"slug": (Literal[slug], Field(description=TASKS[slug].help))}
    for name, p in TASKS[slug].params.items():
        typ = _param_type(p.type, name)
        fields[name] = (typ, Field(description=p.help)) if p.required else \
            (typ | None, Field(None, description=p.help))
    model = create_model(f"Task_{slug.replace('-', '_')}", __base__=_Strict, **fields)
    model.__doc__ = TASKS[slug].help
    return model


TASK_MODELS: dict[str, type[BaseModel]] = {slug: _task_model(slug) for slug in TASKS}
TaskModel = Annotated[functools.reduce(operator.or_, TASK_MODELS.values()),
                      Field(discriminator="slug")]


class PipelineModel(_Strict):
    name: StrictStr = Field(min_length=1, description="unique; letters, digits, _ and - are "
                            "kept, other characters become _ in Dagster names")
    target: StrictStr = Field(description="a key under targets:")
    description: StrictStr = ""
    schedule: ScheduleModel | None = Field(
        None, description="cron string (UTC) or {cron, timezone}")
    dbt_test_failures: Literal["warn", "fail"] = "fail"
    continue_on_sync_failure: StrictBool = False
    lock: Literal["task", "pipeline"] = Field(
        "task", description="task: each step takes its own lock; pipeline: every lock of the "
        "pipeline is held from its first step to its last")
    tasks: list[TaskModel] = Field(min_length=1)

    @field_validator("schedule", mode="before")
    @classmethod
    def _cron_string(cls, value):
        return {"cron": value} if isinstance(value, str) else value

    @field_validator("tasks", mode="after")
    @classmethod
    def _tick_placeholders(cls, tasks):
        for i, t in enumerate(tasks):
            for name in _placeholders(getattr(t, "vars", None) or {}):
                if name not in TICK_VARS:
                    raise ValueError(f"[{i}].vars: unknown tick variable {{{{ {name} }}}}; "
                                     f"known: {', '.join(TICK_VARS)}")
        return tasks


class PipelinesFileModel(_Strict):
    dbt_project_dir: StrictStr | None = Field(
        None, description="folder holding dbt_project.yml, relative to this file")
    targets: dict[StrictStr, TargetModel] = Field(default_factory=dict)
    connections: dict[StrictStr, dict[StrictStr, Any]] = Field(
        default_factory=dict, description="Airbyte connections (see docs/airbyte.md)")
    pipelines: list[PipelineModel] = Field(default_factory=list)
    # set by validate(): the file index of each pipeline kept, and whether the top level failed
    _positions: list[int] | None = PrivateAttr(None)
    _partial: bool = PrivateAttr(False)

    @property
    def positions(self) -> list[int] | None:
        return self._positions

    @property
    def partial(self) -> bool:
        return self._partial


def _placeholders(value) -> list[str]:
    if isinstance(value, str):
        return _PLACEHOLDER.findall(value)
    if isinstance(value, dict):
        return [n for v in value.values() for n in _placeholders(v)]
    if isinstance(value, list):
        return [n for v in value for n in _placeholders(v)]
    return []


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


def json_schema() -> dict:
    return PipelinesFileModel.model_json_schema(by_alias=True)
