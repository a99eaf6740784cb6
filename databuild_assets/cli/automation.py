"""``databuild want``, ``databuild wants`` and ``databuild replay``.

Registered on the main group by ``register(cli)`` (``commands.py``); it imports nothing from
``commands.py``, which imports it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import sys
import time

import click
from rich.console import Console
from rich.table import Table

from ..core.errors import DatabuildError, RefError
from ..core.refs import DateDim, StaticDim, date_range
from ..core.wants import (
    active_wants,
    cancel_want,
    format_duration,
    get_want,
    list_wants,
    retry_states,
    sla_miss_counts,
)
from ..core.wants import want as want_api
from ..refspec import expand_all

console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


def _when(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def _parse_time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not an ISO date/time, e.g. 2024-01-15T06:00") from None
    return (t if t.tzinfo else t.replace(tzinfo=dt.UTC)).timestamp()


@click.command()
@click.argument("refs", nargs=-1)
@click.option("--ttl", default="7d", show_default=True,
              help="Give up after this long (e.g. 30d, 12h); 'never' to keep trying.")
@click.option("--sla", help="Report a breach if not live this long after the data time (e.g. 6h).")
@click.option("--data-time", help="What time the data is 'as of' (ISO; default: now). The SLA "
              "clock starts here.")
@click.option("--comment", default="", help="Why this is wanted (shown by `databuild wants`).")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def want(obj, refs, ttl, sla, data_time, comment, as_json):
    """Want REFS to exist: the databuild_wants sensor builds them (and what they need)."""
    wanted = expand_all(refs)
    if not wanted:
        raise click.UsageError("give at least one ref, e.g. trail/date=2024-01-14")
    w = want_api(obj.graph, wanted, ttl=None if ttl == "never" else ttl, sla=sla,
                 source="cli", comment=comment, data_ts=_parse_time(data_time))
    if as_json:
        console.print_json(json.dumps(w.to_json()))
        return
    console.print(f"want [bold]{w.want_id}[/]: {len(w.refs)} ref(s), ttl "
                  f"{format_duration(w.ttl_seconds) if w.ttl_seconds else 'never'}, sla "
                  f"{format_duration(w.sla_seconds)}. The databuild_wants sensor builds it "
                  "(Dagster daemon: `databuild ui`); `databuild wants` shows progress.")


@click.command()
@click.argument("want_id", required=False)
@click.option("--state", type=click.Choice(["active", "satisfied", "expired", "cancelled", "all"]),
              default="all", show_default=True)
@click.option("--cancel", "cancel", is_flag=True, help="Cancel WANT_ID.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def wants(obj, want_id, state, cancel, limit, as_json):
    """List wants with their state; with WANT_ID, each ref's state, retries and SLA."""
    graph = obj.graph
    if want_id:
        if cancel:
            ok = cancel_want(graph.catalog, want_id)
            console.print(f"want {want_id}: {'cancelled' if ok else 'not active, unchanged'}")
            return
        return _show_want(graph, want_id, as_json)
    ws = list_wants(graph.catalog, None if state == "all" else [state], limit=limit)
    refs = sorted({r for w in ws for r in w.refs})
    st = {r: s.state for r, s in graph.status([r for r in refs if _parses(graph, r)]).items()}
    if as_json:
        console.print_json(json.dumps([{**w.to_json(), "live": sum(st.get(r) == "live" for r in w.refs)}
                                       for w in ws]))
        return
    table = Table(title=f"{len(ws)} want(s), {len(active_wants(graph.catalog))} active")
    for col in ("id", "state", "live", "refs", "created", "expires", "sla", "source", "comment"):
        table.add_column(col, overflow="fold")
    colors = {"active": "cyan", "satisfied": "green", "expired": "red", "cancelled": "dim"}
    for w in ws:
        sla = format_duration(w.sla_seconds)
        if w.sla_breached_at:
            sla += " [red]missed[/]"
        table.add_row(w.want_id, f"[{colors.get(w.state, 'white')}]{w.state}[/]",
                      f"{sum(st.get(r) == 'live' for r in w.refs)}/{len(w.refs)}",
                      w.refs[0] + (f" (+{len(w.refs) - 1})" if len(w.refs) > 1 else ""),
                      _when(w.created_at), _when(w.expires_at), sla, w.source, w.comment)
    console.print(table)
    misses = sla_miss_counts(graph.catalog)
    if misses:
        console.print("SLA misses per dataset per day: " + ", ".join(
            f"{ds} {day}: {n}" for ds, day, n in misses))


def _show_want(graph, want_id, as_json):
    w = get_want(graph.catalog, want_id)
    if w is None:
        raise DatabuildError(f"no want {want_id!r}; `databuild wants` lists them")
    st = graph.status([r for r in w.refs if _parses(graph, r)])
    retries = retry_states(graph.catalog, w.refs)
    now = time.time()
    rows = [{"ref": r, "state": st[r].state if r in st else "unknown",
             "reasons": list(st[r].reasons) if r in st else [],
             "age_seconds": round(now - w.sla_start, 1), "sla_seconds": w.sla_seconds,
             "attempts": retries[r].attempts if r in retries else 0,
             "failure_class": retries[r].failure_class if r in retries else None,
             "next_attempt_at": retries[r].next_attempt_at if r in retries else None}
            for r in w.refs]
    if as_json:
        console.print_json(json.dumps({**w.to_json(), "partitions": rows}))
        return
    console.print(f"want [bold]{w.want_id}[/] {w.state} ({w.source}) {w.comment}")
    table = Table()
    for col in ("ref", "state", "age / sla", "attempts", "why"):
        table.add_column(col, overflow="fold")
    for row in rows:
        late = w.sla_seconds is not None and row["state"] != "live" and row["age_seconds"] > w.sla_seconds
        age = f"{format_duration(row['age_seconds'])} / {format_duration(w.sla_seconds)}"
        retry = (f"{row['attempts']} ({row['failure_class']})" if row["attempts"] else "0")
        table.add_row(row["ref"], row["state"], f"[red]{age}[/]" if late else age, retry,
                      "\n".join(row["reasons"]))
    console.print(table)


def _parses(graph, ref) -> bool:
    try:
        graph.registry.parse(ref)
        return True
    except DatabuildError:
        return False


def replay_refs(graph, dataset: str, start: str, end: str, where: dict[str, str]) -> list[str]:
    """Every partition of ``dataset`` dated start..end (static dims: all values, or ``where``;
    token dims: the values the catalog knows)."""
    if dataset not in graph.registry.patterns:
        raise RefError(f"no job produces dataset {dataset!r}; known: "
                       f"{', '.join(sorted(graph.registry.patterns))}")
    p = graph.registry.patterns[dataset]
    dates = [d for d in p.dims if isinstance(d, DateDim)]
    if not dates:
        raise RefError(f"{dataset} has no date dimension to replay a range of ({p.template})")
    known = [p.parse(r.ref) for r in graph.catalog.partitions_of(dataset)]
    options = []
    for d in p.dims:
        if d.name in where:
            options.append([d.validate(where[d.name])])
        elif d is dates[0]:
            options.append(date_range(start, end))
        elif isinstance(d, StaticDim):
            options.append(list(d.values))
        else:
            options.append(sorted({k[d.name] for k in known}))
    return [p.format(**dict(zip(p.dim_names, combo, strict=True)))
            for combo in itertools.product(*options)]


@click.command()
@click.argument("dataset")
@click.option("--start", required=True, help="First date (YYYY-MM-DD).")
@click.option("--end", required=True, help="Last date, inclusive.")
@click.option("--where", "where", multiple=True, help="dim=value: only these partitions.")
@click.option("--dry-run", is_flag=True, help="Show the plan only; build nothing.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_obj
def replay(obj, dataset, start, end, where, dry_run, as_json):
    """Rebuild DATASET from START to END (forced) and report what changed per partition."""
    graph = obj.graph
    filters = dict(w.split("=", 1) for w in where if "=" in w)
    refs = replay_refs(graph, dataset, start, end, filters)
    before = {r: row.data_version for r, row in graph.catalog.partitions(refs).items()}
    if dry_run:
        plan = graph.plan(refs, force=True)
        rows = [{"ref": r, "before": before.get(r), "after": None, "change": "would rebuild"}
                for r in refs]
        _print_replay(rows, as_json, f"dry run: {len(plan.nodes)} job config(s) would run, "
                      f"{len(plan.output_refs)} partition(s) built; nothing was built")
        return
    result = graph.build(refs, force=True, origin="replay")
    after = {r: row.data_version for r, row in graph.catalog.partitions(refs).items()}
    failed = {**result.failed, **result.blocked}
    rows = []
    for r in refs:
        b, a = before.get(r), after.get(r)
        change = ("failed: " + failed[r][:120] if r in failed else "new" if b is None
                  else "unchanged" if a == b else "changed")
        rows.append({"ref": r, "before": b, "after": a if r not in failed else None,
                     "change": change})
    if result.manifests and (obj.conf.dagster_home / "dagster.yaml").exists():
        from ..dagster.sync import ensure_instance, report_manifests

        report_manifests(graph, result.manifests, ensure_instance(obj.conf.dagster_home))
    counts = {k: sum(row["change"].startswith(k) for row in rows)
              for k in ("changed", "unchanged", "new", "failed")}
    _print_replay(rows, as_json, ", ".join(f"{v} {k}" for k, v in counts.items()))
    if failed:
        sys.exit(1)


def _print_replay(rows, as_json, summary):
    if as_json:
        console.print_json(json.dumps({"partitions": rows, "summary": summary}))
        return
    table = Table(title=f"replay: {len(rows)} partition(s)")
    for col in ("ref", "before", "after", "change"):
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(row["ref"], (row["before"] or "-")[:12], (row["after"] or "-")[:12],
                      row["change"])
    console.print(table)
    console.print(summary)


def register(cli: click.Group) -> None:
    for cmd in (want, wants, replay):
        cli.add_command(cmd)
