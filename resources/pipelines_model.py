"""The shape of pipelines.yaml as pydantic models: unknown keys are refused, types are strict
(``pipelines_validation`` runs them and turns every problem into one line naming its path).

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


def json_schema() -> dict:
    return PipelinesFileModel.model_json_schema(by_alias=True)
