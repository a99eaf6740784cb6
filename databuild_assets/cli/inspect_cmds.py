"""``databuild status``, ``mermaid``, ``lookup``, ``taint``, ``manifests`` and ``events``:
the commands that read (or taint) what the catalog holds, without building anything."""

from __future__ import annotations

import json
import time

import click
from rich.table import Table

from .context import Ctx, refs_of


def _listing(limit: int):
    """The options of the catalog listings (``manifests``, ``events``): ``--limit`` with its
    default, ``--json``, and the context object; one decorator so both list the same way."""
    def decorate(fn):
        fn = click.pass_obj(fn)
        fn = click.option("--json", "as_json", is_flag=True)(fn)
        return click.option("--limit", default=limit, show_default=True)(fn)
    return decorate


def _print_json(console, rows: list) -> None:
    """Rows as JSON; timestamps and other non-JSON values as their ``str``."""
    console.print_json(json.dumps(rows, default=str))


def register(cli: click.Group, console) -> None:
    @cli.command()
    @click.argument("refs", nargs=-1)
    @click.option("--dataset", help="Every known partition of this dataset.")
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_obj
    def status(obj: Ctx, refs, dataset, as_json):
        """State of each partition (missing/building/live/stale/failed/tainted) and why."""
        graph = obj.graph
        wanted = refs_of(refs, obj) if refs else graph.known_refs(dataset)
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
        from ..core.render import dataset_mermaid, provenance_mermaid

        if datasets:
            click.echo(dataset_mermaid(obj.graph.registry))
            return
        wanted = refs_of(refs, obj)
        if not (force or as_plan):
            st = obj.graph.status(wanted)
            if all(s.state == "live" for s in st.values()):
                ids = [st[r].manifest_id for r in wanted]
                click.echo(provenance_mermaid(obj.graph.catalog, ids))
                return
        click.echo(obj.graph.plan(wanted, force=force).mermaid())

    @cli.command()
    @click.argument("refs", nargs=-1)
    @click.option("--json", "as_json", is_flag=True)
    @click.pass_obj
    def lookup(obj: Ctx, refs, as_json):
        """Which job builds each of REFS, and with which config (outputs, inputs, args)."""
        from ..plan_script import lookup_configs

        found = lookup_configs(obj.graph, refs_of(refs, obj))
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
                env = " ".join(f"{k}={v}" for k, v in cfg["env"].items())
                console.print(f"  env:     {env}")
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
    @_listing(limit=20)
    def manifests(obj: Ctx, ref, dataset, limit, as_json):
        """Manifests (provenance records), newest first."""
        ms = obj.graph.catalog.manifest_history(ref=ref, dataset=dataset, limit=limit)
        if as_json:
            return _print_json(console, [m.to_json() for m in ms])
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
    @_listing(limit=50)
    def events(obj: Ctx, build_id, ref, limit, as_json):
        """The build event log."""
        evs = obj.graph.catalog.events(build_id=build_id, ref=ref, limit=limit)
        if as_json:
            return _print_json(console, [e.__dict__ for e in evs])
        for e in evs:
            when = time.strftime("%H:%M:%S", time.localtime(e.ts))
            detail = " ".join(f"{k}={v}" for k, v in e.detail.items())
            console.print(f"{when} {e.build_id} [bold]{e.kind:<10}[/] {e.ref or ''} "
                          f"{e.job or ''} {detail}".rstrip())
