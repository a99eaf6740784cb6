"""The ``databuild`` command line: plan, build, status, mermaid, taint, manifests, events."""

from __future__ import annotations

import json
import sys
import time

import click
from rich.console import Console
from rich.table import Table

from . import settings as settings_mod
from .core import DatabuildError, Graph
from .core.redact import redact_text
from .graph_loader import load_graph
from .refspec import MAX_REFS, expand_all

_WIDTH = None if sys.stdout.isatty() else 160  # logs and CI get whole lines, not folds
console = Console(highlight=False, width=_WIDTH)
err = Console(stderr=True, highlight=False, width=_WIDTH)


class Ctx:
    def __init__(self, graph_spec, catalog, data_root, max_refs=MAX_REFS):
        self.max_refs = max_refs
        self.conf = settings_mod.load()
        self.graph_spec = graph_spec or self.conf.graph
        # explicit options win; otherwise the graph's own binding, then the settings
        self.catalog_url = catalog
        self.data_root = data_root
        self._graph = None

    @property
    def graph(self) -> Graph:
        if self._graph is None:
            self._graph = load_graph(self.graph_spec).bind(self.catalog_url, self.data_root)
        return self._graph


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


def _refs(specs, obj: Ctx | None = None) -> list[str]:
    refs = expand_all(specs, obj.max_refs if obj else MAX_REFS)
    if not refs:
        raise click.UsageError("give at least one ref, e.g. orders/date=2024-01-01")
    return refs


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
    g = obj.graph.plan(_refs(refs, obj), force=force)
    if script:
        from .plan_script import write_script

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

    from .progress import BuildProgress

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
    refs = _refs(refs, obj)
    progress = BuildProgress(console, enabled=not as_json)
    if via_dagster:
        progress.partitions()
    with progress:
        if via_dagster:
            from .dagster.launcher import build_with_dagster

            result = build_with_dagster(obj.graph, obj.graph_spec, refs,
                                        dagster_home=obj.conf.dagster_home, force=force,
                                        on_event=progress.on_event, celery=celery,
                                        jobs=jobs)
        else:
            from resources.pools import warehouse_pool

            result = obj.graph.build(refs, force=force, origin="cli",
                                     on_event=progress.on_event, jobs=jobs,
                                     pool_of=warehouse_pool)
    if not via_dagster and result.manifests:
        _report_to_dagster(obj, result.manifests, required=False)
    summary = result.summary()
    if as_json:
        console.print_json(json.dumps({**summary, "failed_refs": result.failed,
                                       "blocked_refs": getattr(result, "blocked", {})}))
    else:
        progress.print_summary(result)
    if not result.ok:
        sys.exit(1)


def _report_to_dagster(obj: Ctx, manifests, required: bool) -> None:
    """Mirror CLI-built partitions into the Dagster instance, when there is one."""
    home = obj.conf.dagster_home
    if not required and not (home / "dagster.yaml").exists():
        return
    from .dagster.sync import ensure_instance, report_manifests

    report_manifests(obj.graph, manifests, ensure_instance(home))


@cli.command()
@click.argument("refs", nargs=-1)
@click.option("--dataset", help="Every known partition of this dataset.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def status(obj: Ctx, refs, dataset, as_json):
    """State of each partition (missing/building/live/stale/failed/tainted) and why."""
    graph = obj.graph
    wanted = _refs(refs, obj) if refs else graph.known_refs(dataset)
    statuses = graph.status(wanted)
    if as_json:
        console.print_json(json.dumps([s.to_json() for s in statuses.values()]))
        return
    colors = {"live": "green", "stale": "yellow", "missing": "dim", "failed": "red",
              "tainted": "magenta", "building": "cyan", "damaged": "red"}
    table = Table(title=f"{len(statuses)} partition(s)")
    for col in ("ref", "state", "data version", "reasons"):
        table.add_column(col, overflow="fold")
    for ref, s in statuses.items():
        c = colors.get(s.state, "white")
        table.add_row(ref, f"[{c}]{s.label}[/]", (s.data_version or "")[:12],
                      "\n".join(s.reasons))
    console.print(table)


@cli.command()
@click.argument("refs", nargs=-1)
@click.option("--force", is_flag=True, help="Draw the plan of a forced rebuild.")
@click.option("--plan", "as_plan", is_flag=True,
              help="Draw the plan even when every ref is live (default: their provenance).")
@click.option("--datasets", is_flag=True, help="Draw the dataset graph (which job makes what).")
@click.pass_obj
def mermaid(obj: Ctx, refs, force, as_plan, datasets):
    """Mermaid flowchart: the provenance of live REFS (from their manifests), else the plan
    that would build them; --datasets: the dataset graph."""
    from .core.render import dataset_mermaid, provenance_mermaid

    if datasets:
        click.echo(dataset_mermaid(obj.graph.registry))
        return
    wanted = _refs(refs, obj)
    if not (force or as_plan):
        st = obj.graph.status(wanted)
        if all(s.state == "live" for s in st.values()):
            click.echo(provenance_mermaid(obj.graph.catalog, [st[r].manifest_id for r in wanted]))
            return
    click.echo(obj.graph.plan(wanted, force=force).mermaid())


@cli.command()
@click.argument("refs", nargs=-1)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def lookup(obj: Ctx, refs, as_json):
    """Which job builds each of REFS, and with which config (outputs, inputs, args)."""
    from .plan_script import lookup_configs

    found = lookup_configs(obj.graph, _refs(refs, obj))
    if as_json:
        console.print_json(json.dumps(found))
        return
    for item in found:
        console.print(f"[bold]{item['ref']}[/]  job [cyan]{item['job']}[/] "
                      f"({item['kind']}, code {item['code_version']}, timeout "
                      f"{item['timeout']:g} s)")
        cfg = item["config"]
        console.print(f"  outputs: {', '.join(cfg['outputs'])}")
        for i in cfg["inputs"] or [{"dep_type": "-", "ref": "(none)"}]:
            console.print(f"  input:   {i['ref']} [dim]({i['dep_type']})[/]")
        if cfg["args"]:
            console.print(f"  args:    {' '.join(cfg['args'])}")
        if cfg["env"]:
            console.print("  env:     " + " ".join(f"{k}={v}" for k, v in cfg["env"].items()))
        console.print(f"  config hash: {item['hash']}")


@cli.command()
@click.argument("ref")
@click.option("--reason", required=True, help="Why this partition's data is bad.")
@click.pass_obj
def taint(obj: Ctx, ref, reason):
    """Mark a partition's current data as bad; it and its dependents will be rebuilt."""
    st = obj.graph.taint(ref, reason)
    console.print(f"{ref}: [magenta]{st.state}[/] ({'; '.join(st.reasons)})")


@cli.command()
@click.argument("ref", required=False)
@click.option("--dataset")
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def manifests(obj: Ctx, ref, dataset, limit, as_json):
    """Manifests (provenance records), newest first."""
    ms = obj.graph.catalog.manifest_history(ref=ref, dataset=dataset, limit=limit)
    if as_json:
        console.print_json(json.dumps([m.to_json() for m in ms], default=str))
        return
    table = Table(title=f"{len(ms)} manifest(s)")
    for col in ("ref", "job", "data version", "rows", "inputs", "built", "manifest"):
        table.add_column(col, overflow="fold")
    for m in ms:
        table.add_row(m.ref, f"{m.job}@{m.code_version}", m.data_version[:12],
                      str(m.row_count), str(len(m.inputs)),
                      time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(m.end_time)),
                      m.manifest_id[:12])
    console.print(table)


@cli.command()
@click.option("--build", "build_id", help="Only this build's events.")
@click.option("--ref", help="Only this ref's events.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def events(obj: Ctx, build_id, ref, limit, as_json):
    """The build event log."""
    evs = obj.graph.catalog.events(build_id=build_id, ref=ref, limit=limit)
    if as_json:
        console.print_json(json.dumps([e.__dict__ for e in evs], default=str))
        return
    for e in evs:
        when = time.strftime("%H:%M:%S", time.localtime(e.ts))
        detail = " ".join(f"{k}={v}" for k, v in e.detail.items())
        console.print(f"{when} {e.build_id} [bold]{e.kind:<10}[/] {e.ref or ''} "
                      f"{e.job or ''} {detail}".rstrip())


@cli.command()
@click.pass_obj
def demo(obj: Ctx):
    """Build the example graph on embedded defaults (what `make demo` runs)."""
    from .demo import run_demo

    ok, manifests = run_demo(obj.graph, obj.conf, console)
    if manifests:
        _report_to_dagster(obj, manifests, required=True)
    if not ok:
        sys.exit(1)


@cli.command()
@click.option("--port", default=3000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.pass_obj
def ui(obj: Ctx, port, host):
    """Start the Dagster UI (and daemon) on the same state as the CLI."""
    from .cli_dagster import exec_ui

    exec_ui(obj, host, port, console)


from .cli_dagster import register as _register_dagster  # noqa: E402
from .cli_podcast import register as _register_podcast  # noqa: E402
from .cli_tasks import register as _register_tasks  # noqa: E402

_register_tasks(cli, console)
_register_dagster(cli, console)
_register_podcast(cli, console)

from .cli_automation import register as _register_automation  # noqa: E402

_register_automation(cli)


def _interrupted(signum, _frame):
    """SIGTERM like Ctrl-C: stop every job process group, then unwind (builds record it)."""
    from .core.procs import kill_active_groups

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


if __name__ == "__main__":
    main()
