"""The ``databuild`` command line: the group, ``plan``, ``build`` and ``ui``; the other
commands come from the sibling modules of this package (``inspect_cmds``, ``tasks``,
``dagster_cmds``, ``automation``) and from plugins (``plugins.py``)."""

from __future__ import annotations

import json
import sys

import click
from rich.table import Table

from ..core import DatabuildError
from ..core.redact import redact_text
from ..refspec import MAX_REFS
from .context import Ctx, console, err, refs_of


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--graph", "graph_spec", help="module:attr of the Graph (DATABUILD_GRAPH).")
@click.option("--catalog", help="Catalog URL, sqlite:///... or postgresql://... "
              "(DATABUILD_CATALOG_URL).")
@click.option("--data-root", help="Folder of partition data (DATABUILD_DATA_ROOT).")
@click.option("--max-refs", type=click.IntRange(min=1), default=MAX_REFS, show_default=True,
              help="Most refs one request may expand to (ranges and {a,b} choices).")
@click.pass_context
def cli(ctx, graph_spec, catalog, data_root, max_refs):
    """Plan, build and inspect partitions of a databuild graph."""
    ctx.obj = Ctx(graph_spec, catalog, data_root, max_refs)


@cli.command()
@click.argument("refs", nargs=-1)
@click.option("--force", is_flag=True, help="Rebuild the requested refs even if fresh.")
@click.option("--json", "as_json", is_flag=True)
@click.option("--script", "script", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write the plan as a runnable shell script of executable-job invocations "
                   "('-': stdout). Every job in the plan must be an executable job.")
@click.pass_obj
def plan(obj: Ctx, refs, force, as_json, script):
    """Show what must run to build REFS, and what is skipped or delegated."""
    g = obj.graph.plan(refs_of(refs, obj), force=force)
    if script:
        from ..plan_script import write_script

        write_script(obj.graph, g, script, console)
        return
    if as_json:
        console.print_json(json.dumps(g.to_json()))
        return
    table = Table(title=f"plan: {len(g.nodes)} job config(s)", show_lines=False)
    for col in ("#", "job", "outputs", "inputs", "why"):
        table.add_column(col)
    for i, n in enumerate(g.nodes, 1):
        outs = sorted(n.outputs)
        why = g.reasons.get(outs[0], ("dependency",))
        table.add_row(str(i), n.job, outs[0] + (f" (+{len(outs) - 1})" if len(outs) > 1 else ""),
                      str(len(n.inputs)), "; ".join(why)[:80])
    console.print(table)
    console.print(f"skipped (live and fresh): {len(g.skipped)}   "
                  f"delegated (being built elsewhere): {len(g.delegated)}")


@cli.command()
@click.argument("refs", nargs=-1)
@click.option("--force", is_flag=True, help="Rebuild the requested refs even if fresh.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--dagster", "via_dagster", is_flag=True,
              help="Run the plan as Dagster runs in the instance at DAGSTER_HOME (visible in the UI).")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True),
              help="Default time limit per job, in seconds (DATABUILD_JOB_TIMEOUT; jobs may set "
                   "their own). A job over its limit is killed with its whole process group.")
@click.option("--celery", "celery_yaml", type=click.Path(exists=True, dir_okay=False),
              help="With --dagster: run the steps on Celery workers; the executor config "
                   "(execution.config) is read from this YAML file, the one the workers start "
                   "with (deploy/celery).")
@click.option("--jobs", "-j", "jobs", type=click.IntRange(min=1),
              help="Run up to N independent plan nodes at once (with --dagster: up to N runs "
                   "in flight); default: the number of cores. Writes to one warehouse target "
                   "still run one at a time.")
@click.pass_obj
def build(obj: Ctx, refs, force, as_json, via_dagster, timeout, celery_yaml, jobs):
    """Build REFS and everything upstream that is missing or stale."""
    import os

    from ..progress import BuildProgress

    if timeout:  # through the environment, so Dagster runs launched from here see it too
        os.environ["DATABUILD_JOB_TIMEOUT"] = repr(float(timeout))
    celery = None
    if celery_yaml:
        if not via_dagster:
            raise click.UsageError("--celery needs --dagster: Celery workers run Dagster steps")
        from pathlib import Path

        import yaml

        doc = yaml.safe_load(Path(celery_yaml).read_text()) or {}
        celery = (doc.get("execution") or {}).get("config")
        if not isinstance(celery, dict):
            raise click.UsageError(f"{celery_yaml} has no execution.config block (see "
                                   "deploy/celery/celery.yaml)")
    jobs = jobs or os.cpu_count() or 1
    refs = refs_of(refs, obj)
    progress = BuildProgress(console, enabled=not as_json)
    if via_dagster:
        progress.partitions()
    with progress:
        if via_dagster:
            from ..dagster.launcher import build_with_dagster
            from ..settings import CATALOG_PASSWORD_ENV

            result = build_with_dagster(obj.graph, obj.graph_spec, refs,
                                        dagster_home=obj.conf.dagster_home, force=force,
                                        on_event=progress.on_event, celery=celery,
                                        jobs=jobs, catalog_password_env=CATALOG_PASSWORD_ENV)
        else:
            from resources.pools import warehouse_pool

            result = obj.graph.build(refs, force=force, origin="cli",
                                     on_event=progress.on_event, jobs=jobs,
                                     pool_of=warehouse_pool)
    if not via_dagster and result.manifests:
        obj.report_to_dagster(result.manifests, required=False)
    summary = result.summary()
    if as_json:
        console.print_json(json.dumps({**summary, "failed_refs": result.failed,
                                       "blocked_refs": result.blocked}))
    else:
        progress.print_summary(result)
    if not result.ok:
        sys.exit(1)


@cli.command()
@click.option("--port", default=3000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.pass_obj
def ui(obj: Ctx, port, host):
    """Start the Dagster UI (and daemon) on the same state as the CLI."""
    from .dagster_cmds import exec_ui

    exec_ui(obj, host, port, console)


from .dagster_cmds import register as _register_dagster  # noqa: E402
from .inspect_cmds import register as _register_inspect  # noqa: E402
from .plugins import load_plugins  # noqa: E402
from .tasks import register as _register_tasks  # noqa: E402

_register_inspect(cli, console)
_register_tasks(cli, console)
_register_dagster(cli, console)

from .automation import register as _register_automation  # noqa: E402

_register_automation(cli)
load_plugins(cli, console, err)  # the example's demo, sample-data and dlq commands, for one


def _interrupted(signum, _frame):
    """SIGTERM like Ctrl-C: stop every job process group, then unwind (builds record it)."""
    from ..core.procs import kill_active_groups

    kill_active_groups()
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> None:
    import signal

    signal.signal(signal.SIGTERM, _interrupted)
    debug = "--debug" in sys.argv
    if debug:
        sys.argv.remove("--debug")
    try:
        cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        err.print("aborted: interrupted; running jobs and their process groups were stopped")
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except DatabuildError as e:
        err.print(f"[red]error:[/] {redact_text(str(e))}", soft_wrap=True, markup=True)
        sys.exit(2)
    except Exception as e:  # noqa: BLE001 - the last resort: one line instead of a traceback
        if debug:
            raise
        err.print(f"[red]error:[/] unexpected {type(e).__name__}: {redact_text(str(e))} "
                  "(rerun with --debug for the traceback)")
        sys.exit(3)
