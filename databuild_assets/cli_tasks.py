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
        for col in ("pipeline", "target", "schedule", "tasks (enforced order)"):
            table.add_column(col, overflow="fold")
        for p in pf.pipelines.values():
            table.add_row(p.name, p.target, f"{p.cron} {p.timezone}" if p.cron else "-",
                          " -> ".join(t.name for t in p.tasks))
        console.print(table)

    @pipelines.command()
    @_file_opt
    @click.pass_obj
    def validate(obj, file_):
        """Check the file; one clear line per problem."""
        from resources.pipelines import load

        pf = load(_path(obj, file_))
        console.print(f"[green]ok[/]: {len(pf.pipelines)} pipeline(s), {len(pf.targets)} "
                      f"target(s), {len(pf.connections)} connection(s) in {pf.path}")

    @pipelines.command()
    @click.argument("name")
    @_file_opt
    @click.pass_obj
    def run(obj, name, file_):
        """Run pipeline NAME now, as a Dagster run (task locks apply)."""
        from resources.dagster_pipelines import run_pipeline
        from resources.locks import host_tags, interruptible_wait

        from .dagster.sync import ensure_instance

        instance = ensure_instance(obj.conf.dagster_home)
        with interruptible_wait(instance, log=console.print):  # SIGTERM/SIGINT while waiting
            done = run_pipeline(_path(obj, file_), name, instance, tags=host_tags())
        with done as result:
            for ev in result.all_events:
                if ev.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
                    colour = "green" if ev.event_type_value == "STEP_SUCCESS" else "red"
                    console.print(f"[{colour}]{ev.event_type_value.lower():<12}[/] {ev.step_key}")
            console.print(f"run {result.run_id}: "
                          f"{'[green]succeeded' if result.success else '[red]FAILED'}[/]")
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
