"""The plain objects a pipelines file is loaded into (``Pipeline``, ``Task``, ...) and the task
order they follow (docs/pipelines.md): setup tasks first whatever their place in the file
(Airbyte in declared order, then git, dbt clean, dbt deps); the dbt work tasks in the order
seed -> run/build -> test -> docs-generate; shell tasks keep their place among them.

Their own module so the loader (``pipelines``) and the cross-field rules
(``pipelines_rules``) share them without importing each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from databuild_assets.core.errors import ConfigError
from databuild_assets.core.names import safe_name

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
    return safe_name(name)


def order_tasks(tasks: list[Task]) -> list[Task]:
    """Stable sort by phase: declared order is kept within a phase."""
    return sorted(tasks, key=lambda t: PHASES.get(t.slug, USER_PHASE))
