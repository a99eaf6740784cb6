"""The task master list: every operation a pipeline can run, with its parameter schema.

A task is data (slug + parameters). The operation object (dbt invocation, Airbyte client,
git process) is built in memory for each run and thrown away: nothing is persisted, so
changing a parameter never needs a migration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from databuild_assets.core.errors import ConfigError


@dataclass(frozen=True)
class Param:
    type: str  # str | int | bool | list | dict
    required: bool = False
    help: str = ""


@dataclass(frozen=True)
class TaskType:
    slug: str
    kind: str  # airbyte | git | dbt | shell
    command: str
    params: dict[str, Param] = field(default_factory=dict)
    long_running: bool = False
    help: str = ""


_DBT = {
    "select": Param("str", help="dbt --select"),
    "exclude": Param("str", help="dbt --exclude"),
    "vars": Param("dict", help="dbt --vars"),
    "flags": Param("list", help="extra dbt flags, e.g. ['--full-refresh']"),
    "options": Param("dict", help="--key value options, e.g. {threads: 4}"),
    "env": Param("dict", help="environment for the dbt process"),
}
_AIRBYTE = {"connection": Param("str", True, "name under connections:"),
            "timeout": Param("int", help="seconds before the sync is cancelled (default 3600)")}
_GIT = {"repo": Param("str", True, "https URL of the repository"),
        "dest": Param("str", help="checkout folder (default: the dbt project dir)"),
        "branch": Param("str", help="branch to check out"),
        "token_env": Param("str", help="env var (or secrets-file key) holding the token")}

TASKS: dict[str, TaskType] = {t.slug: t for t in [
    TaskType("airbyte-sync", "airbyte", "sync", _AIRBYTE, True, "Sync one Airbyte connection."),
    TaskType("airbyte-clear", "airbyte", "clear",
             {**_AIRBYTE, "streams": Param("list", help="only these streams")}, False,
             "Clear (reset) a connection or chosen streams."),
    TaskType("git-pull", "git", "git pull", _GIT, False,
             "Update the checkout (clones it when missing)."),
    TaskType("git-clone", "git", "git clone", _GIT, False, "Clone the repository."),
    TaskType("dbt-clean", "dbt", "dbt clean", {"env": _DBT["env"]}, False, "dbt clean."),
    TaskType("dbt-deps", "dbt", "dbt deps", {"env": _DBT["env"]}, False, "dbt deps."),
    TaskType("dbt-seed", "dbt", "dbt seed", _DBT, True, "dbt seed."),
    TaskType("dbt-run", "dbt", "dbt run", _DBT, True, "dbt run."),
    TaskType("dbt-test", "dbt", "dbt test", _DBT, True, "dbt test."),
    TaskType("dbt-build", "dbt", "dbt build", _DBT, True, "dbt build (run + test)."),
    TaskType("dbt-docs-generate", "dbt", "dbt docs generate", _DBT, False, "dbt docs."),
    TaskType("shell", "shell", "<argv>", {
        "args": Param("list", True, "argv list; run without a shell"),
        "cwd": Param("str", help="working directory (must be an allowed one)"),
        "env": Param("dict", help="extra environment"),
        "timeout": Param("int", help="seconds")}, False, "Run a program."),
]}

_PY = {"str": str, "int": int, "bool": bool, "list": list, "dict": dict}


def validate_params(slug: str, params: dict, where: str) -> list[str]:
    """One message per problem, each naming the task and the parameter."""
    task = TASKS.get(slug)
    if task is None:
        return [f"{where}: unknown task slug {slug!r}; known: {', '.join(sorted(TASKS))}"]
    errors = []
    for name, value in params.items():
        spec = task.params.get(name)
        if spec is None:
            errors.append(f"{where}: task {slug!r} has no parameter {name!r}; it takes "
                          f"{', '.join(sorted(task.params)) or 'none'}")
        elif not isinstance(value, _PY[spec.type]) or (spec.type == "int" and isinstance(value, bool)):
            errors.append(f"{where}: parameter {name!r} of {slug!r} must be a {spec.type}, "
                          f"got {type(value).__name__}")
    for name, spec in task.params.items():
        if spec.required and name not in params:
            errors.append(f"{where}: task {slug!r} needs parameter {name!r} ({spec.help})")
    return errors


def task_table() -> list[dict]:
    return [{"slug": t.slug, "kind": t.kind, "command": t.command, "long_running": t.long_running,
             "params": {n: f"{p.type}{'' if not p.required else ' (required)'}"
                        for n, p in t.params.items()}, "help": t.help} for t in TASKS.values()]


def ensure_known(slug: str) -> TaskType:
    if slug not in TASKS:
        raise ConfigError(f"unknown task slug {slug!r}; known: {', '.join(sorted(TASKS))}")
    return TASKS[slug]
