"""`databuild tasks`, `databuild pipelines list|validate|run`, `databuild locks`."""

from __future__ import annotations

import json
import sys
import time

import click
from rich.table import Table

_file_opt = click.option("--file", "file_", type=click.Path(), default=None,
                         help="pipelines YAML (DATABUILD_PIPELINES_FILE, default ./pipelines.yaml)")


def register(cli: click.Group, console) -> None:
    @cli.command()
    @click.option("--json", "as_json", is_flag=True)
    def tasks(as_json):
        """The task master list with each task's parameters."""
        from resources.tasks import task_table

        rows = task_table()
        if as_json:
            console.print_json(json.dumps(rows))
            return
        table = Table(title=f"{len(rows)} task types")
        for col in ("slug", "kind", "command", "parameters", "lock"):
            table.add_column(col, overflow="fold")
        for r in rows:
            lock = {"airbyte": "airbyte:<connection>", "git": "git:<repo>",
                    "dbt": "dbt:<project>:<target>"}.get(r["kind"], "-")
            table.add_row(r["slug"], r["kind"], r["command"],
                          ", ".join(f"{k}: {v}" for k, v in r["params"].items()), lock)
        console.print(table)

    @cli.group()
    def pipelines():
        """Declared ELT pipelines (pipelines.yaml)."""

    def _path(obj, file_):
        return file_ or str(obj.conf.pipelines_file)

    @pipelines.command("list")
    @_file_opt
    @click.pass_obj
    def list_(obj, file_):
        from resources.pipelines import load

        pf = load(_path(obj, file_))
        table = Table(title=str(pf.path))
        for col in ("pipeline", "target", "schedule", "lock", "tasks (enforced order)"):
            table.add_column(col, overflow="fold")
        for p in pf.pipelines.values():
            table.add_row(p.name, p.target, f"{p.cron} {p.timezone}" if p.cron else "-",
                          p.lock, " -> ".join(t.name for t in p.tasks))
        console.print(table)

    @pipelines.command()
    @_file_opt
    @click.pass_obj
    def validate(obj, file_):
        """Check the file; one line per problem, each with its path (pipelines[0].tasks[1])."""
        from resources.pipelines import load

        pf = load(_path(obj, file_))
        for w in pf.warnings:
            console.print(f"[yellow]note[/]: {w}", soft_wrap=True)
        console.print(f"[green]ok[/]: {len(pf.pipelines)} pipeline(s), {len(pf.targets)} "
                      f"target(s), {len(pf.connections)} connection(s) in {pf.path}")

    @pipelines.command()
    def schema():
        """Print the JSON Schema of pipelines.yaml (for editors and CI)."""
        from resources.pipelines_model import json_schema

        click.echo(json.dumps(json_schema(), indent=2))

    @pipelines.command()
    @click.argument("name")
    @click.option("--print", "print_", metavar="FILE", default=None,
                  help="print one artifact (e.g. run_results.json) of the latest run")
    @click.pass_obj
    def artifacts(obj, name, print_):
        """The dbt artifacts (manifest, run_results, catalog, index.html) of NAME's latest run."""
        from resources.dbt import latest_artifacts

        from ..core.errors import ConfigError

        latest = latest_artifacts(obj.conf.home, name)
        if latest is None:
            raise ConfigError(f"no dbt artifacts for pipeline {name!r} under "
                              f"{obj.conf.home / 'dbt'}; run it first (databuild pipelines run "
                              f"{name})")
        files = sorted(p for p in latest.rglob("*") if p.is_file() and p.suffix in (
            ".json", ".html"))
        if print_:
            hits = [p for p in files if p.name == print_ or str(p.relative_to(latest)) == print_]
            if not hits:
                raise ConfigError(f"no {print_} in {latest}; there are: "
                                  f"{', '.join(sorted({p.name for p in files})) or 'none'}")
            click.echo(hits[-1].read_text())
            return
        click.echo(str(latest))
        for p in files:
            click.echo(f"  {p.relative_to(latest)}  ({p.stat().st_size:,} bytes)")

    @pipelines.command()
    @click.argument("name")
    @_file_opt
    @click.option("--verbose", is_flag=True, help="also print Dagster's events and dbt output")
    @click.option("--tick", default=None, metavar="ISO-TIME",
                  help="render tick variables ({{ scheduled_date }} ...) as if scheduled then")
    @click.pass_obj
    def run(obj, name, file_, verbose, tick):
        """Run pipeline NAME now, as a Dagster run (task locks apply). One line per step."""
        import datetime as dt

        from resources.locks import host_tags

        from ..core.errors import ConfigError
        from ..dagster.interrupts import interruptible_wait
        from ..dagster.sync import ensure_instance
        from ..pipeline_runs import run_pipeline
        from .pipeline_run import RunPrinter, quiet_run_config

        when = None
        if tick:
            try:
                when = dt.datetime.fromisoformat(tick)
            except ValueError:
                raise ConfigError(f"--tick {tick!r} is not an ISO time like "
                                  "2024-01-15T06:00:00+00:00") from None
        instance = ensure_instance(obj.conf.dagster_home)
        printer = RunPrinter(instance, lambda text: console.print(text, soft_wrap=True))
        with printer, interruptible_wait(instance, log=console.print):
            done = run_pipeline(_path(obj, file_), name, instance,
                                tags={**host_tags(), **printer.tags},
                                run_config=quiet_run_config(verbose), tick=when)
        with done as result:
            printer.skipped([n.name for n in result.job_def.graph.nodes_in_topological_order])
            console.print(printer.summary(result))
            if not result.success:
                sys.exit(1)

    @cli.command()
    @click.option("--json", "as_json", is_flag=True)
    @click.option("--release", "release_", metavar="RUN|LOCK", default=None,
                  help="free the locks of a run (id or prefix) or every holder of a lock")
    @click.option("--force", is_flag=True, help="with --release: even if the run looks alive")
    @click.pass_obj
    def locks(obj, as_json, release_, force):
        """Task locks: holder run, pipeline, since when, state; and who is queued. Locks held
        by dead runs are released first."""
        from resources.locks import existing_instance, lock_table, release, release_dead_holders

        instance = existing_instance(obj.conf.dagster_home)  # never invent an empty one
        freed = release(instance, release_, force) if release_ else []
        freed += release_dead_holders(instance)
        for r in freed:  # stderr: keeps --json output parseable
            click.echo(f"released {', '.join(r['locks']) or 'nothing held'} of run "
                       f"{r['run_id'][:8]}: {r['why']}", err=True)
        rows = lock_table(instance)
        if as_json:
            console.print_json(json.dumps(rows, default=str))
            return
        table = Table(title="task locks")
        for col in ("lock", "state", "pipeline", "run", "step", "since"):
            table.add_column(col, overflow="fold")
        for r in rows:
            since = time.strftime("%H:%M:%S", time.localtime(r["since"])) if r.get("since") else ""
            table.add_row(r["lock"], r["state"], r.get("pipeline", ""), r.get("run_id", "")[:8],
                          r.get("step", "") or "", since)
        console.print(table)
