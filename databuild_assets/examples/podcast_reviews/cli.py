"""The podcast-reviews commands: `databuild demo`, `databuild sample-data` and
`databuild dlq list|replay`.

A CLI plugin, not part of the product: pyproject.toml declares ``register`` in the
``databuild.cli_plugins`` entry-point group and ``databuild_assets/cli/plugins.py`` calls it
with the main group. Commands get the CLI's context object (``graph``, ``conf``,
``report_to_dagster``) through ``click.pass_obj``; this module never imports the CLI itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.table import Table


def register(cli: click.Group, console) -> None:
    @cli.command()
    @click.pass_obj
    def demo(obj):
        """Build the example graph on embedded defaults (what `make demo` runs)."""
        from .demo import run_demo

        ok, manifests = run_demo(obj.graph, obj.conf, console)
        if manifests:
            obj.report_to_dagster(manifests, required=True)
        if not ok:
            sys.exit(1)

    @cli.command("sample-data")
    @click.option("--end", default="2024-01-14", show_default=True)
    @click.option("--days", default=14, show_default=True)
    @click.option("--seed", default=7, show_default=True)
    @click.option("--out", type=click.Path(), help="default: <DATABUILD_HOME>/landing")
    @click.pass_obj
    def sample_data(obj, end, days, seed, out):
        """Write podcast catalog + daily review landing files (JSON lines), ~1% bad records."""
        from .sample_data import generate

        target = Path(out) if out else obj.conf.home / "landing"
        console.print_json(json.dumps(generate(target, end=end, days=days, seed=seed),
                                      default=str))

    @cli.group()
    def dlq():
        """The dead-letter dataset: bad records with their reason and source partition."""

    @dlq.command("list")
    @click.option("--date", "dates", multiple=True, help="only these dates")
    @click.option("--limit", default=20, show_default=True)
    @click.pass_obj
    def dlq_list(obj, dates, limit):
        frames = _dead_letters(obj.graph, dates)
        if not frames:
            console.print("no dead-letter partitions are live yet")
            return
        import pandas as pd

        df = pd.concat(frames, ignore_index=True)
        counts = df.groupby(["source_ref", "reason"]).size().reset_index(name="records")
        table = Table(title=f"{len(df)} dead letter(s)")
        for col in ("source partition", "reason", "records"):
            table.add_column(col)
        for r in counts.itertuples():
            table.add_row(r.source_ref, r.reason, str(r.records))
        console.print(table)
        for r in df.head(limit).itertuples():
            console.print(f"  {r.source_ref} line {r.line}: {r.reason}: {str(r.raw)[:100]}")

    @dlq.command()
    @click.option("--date", "dates", multiple=True, help="only these dates (default: all)")
    @click.pass_obj
    def replay(obj, dates):
        """Re-validate after a fix: rebuild validated + dead letters (forced, idempotent)."""
        graph = obj.graph
        days = list(dates) or sorted(r.ref.rsplit("date=", 1)[1]
                                     for r in graph.catalog.partitions_of("dead_letters"))
        refs = [f"{ds}/date={d}" for d in days for ds in ("validated_reviews", "dead_letters")]
        before = {r: s.data_version for r, s in graph.status(refs).items()}
        result = graph.build(refs, force=True, origin="dlq-replay")
        after = graph.status(refs)
        for r in refs:
            changed = "changed" if before[r] != after[r].data_version else "unchanged"
            console.print(f"{r}: {changed}")
        if not result.ok:
            sys.exit(1)


def _dead_letters(graph, dates):
    rows = [r for r in graph.catalog.partitions_of("dead_letters") if r.state == "live"]
    if dates:
        rows = [r for r in rows if r.ref.rsplit("date=", 1)[1] in dates]
    ms = graph.catalog.manifests(r.manifest_id for r in rows)
    return [graph.store.read(m.path) for m in ms.values()]
