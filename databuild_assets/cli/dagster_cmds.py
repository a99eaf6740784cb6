"""`databuild ui` and `databuild dagster ...`: Dagster's own commands on the project's instance.

Both run Dagster from the interpreter that runs databuild (``python -m dagster``), so they
work from a fresh clone with no virtual environment on PATH, and both point DAGSTER_HOME at
the project's instance (created with run monitoring, run retries and concurrency pools), so
runs started from the shell show up in the UI and the other way round.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

CODE_LOCATION = "databuild_assets.definitions"


def dagster_argv(*args: str) -> list[str]:
    """The argv that runs the Dagster CLI of this interpreter's environment."""
    return [sys.executable, "-m", "dagster", *args]


def project_env(conf, graph_spec: str | None = None) -> dict[str, str]:
    """The environment for Dagster processes on the project's state: the instance is
    created if missing (see ``dagster.sync.ensure_instance``)."""
    from ..dagster.sync import ensure_instance

    ensure_instance(conf.dagster_home)
    env = {**os.environ, "DAGSTER_HOME": str(conf.dagster_home),
           "DATABUILD_HOME": str(conf.home), "DATABUILD_PROJECT_DIR": str(conf.project_dir)}
    if graph_spec:
        env["DATABUILD_GRAPH"] = graph_spec
    return env


def ui_argv(host: str, port: int) -> list[str]:
    return dagster_argv("dev", "-m", CODE_LOCATION, "-h", host, "-p", str(port))


def register(cli: click.Group, console) -> None:
    @cli.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                                   "help_option_names": []})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    @click.pass_obj
    def dagster(obj, args):
        """Run the `dagster` CLI on the project's instance (DAGSTER_HOME set for you).

        \b
        databuild dagster asset materialize -m databuild_assets.definitions \\
            --select podcast_report --partition 2024-01-14
        databuild dagster job execute -m databuild_assets.definitions -j podcast_dev
        databuild dagster run list
        """
        env = project_env(obj.conf, obj.graph_spec)
        argv = dagster_argv(*args)
        sys.stderr.write(f"DAGSTER_HOME={env['DAGSTER_HOME']}\n")
        sys.stderr.flush()
        os.execve(argv[0], argv, env)


def exec_ui(obj, host: str, port: int, console) -> None:
    """Replace this process with `dagster dev` (webserver + daemon) on the project's state."""
    env = project_env(obj.conf, obj.graph_spec)
    console.print(f"Dagster UI on http://{host}:{port} (DAGSTER_HOME={env['DAGSTER_HOME']})")
    argv = ui_argv(host, port)
    os.chdir(Path(obj.conf.project_dir))
    os.execve(argv[0], argv, env)
