"""What every ``databuild`` command shares: the consoles, the context object and ref parsing.

Its own module so the command modules of this package and CLI plugins can use the context
without importing ``commands.py`` (which imports them: no cycle).
"""

from __future__ import annotations

import sys

import click
from rich.console import Console

from .. import settings as settings_mod
from ..core import Graph
from ..graph_loader import load_graph
from ..refspec import MAX_REFS, expand_all

_WIDTH = None if sys.stdout.isatty() else 160  # logs and CI get whole lines, not folds
console = Console(highlight=False, width=_WIDTH)
err = Console(stderr=True, highlight=False, width=_WIDTH)


class Ctx:
    """The object commands get through ``click.pass_obj``: the settings, the graph (loaded
    on first use) and the Dagster mirror of CLI builds."""

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
            conf = settings_mod.load()  # now: build --timeout sets DATABUILD_JOB_TIMEOUT
            self._graph = load_graph(self.graph_spec).bind(
                self.catalog_url, self.data_root).with_defaults(
                conf.catalog_url, conf.data_root, conf.job_timeout)
        return self._graph

    def report_to_dagster(self, manifests, required: bool) -> None:
        """Mirror CLI-built partitions into the Dagster instance, when there is one."""
        home = self.conf.dagster_home
        if not required and not (home / "dagster.yaml").exists():
            return
        from ..dagster.sync import ensure_instance, report_manifests

        report_manifests(self.graph, manifests, ensure_instance(home))


def refs_of(specs, obj: Ctx | None = None) -> list[str]:
    """The refs a command's REFS arguments expand to (ranges, {a,b} choices); at least one."""
    refs = expand_all(specs, obj.max_refs if obj else MAX_REFS)
    if not refs:
        raise click.UsageError("give at least one ref, e.g. orders/date=2024-01-01")
    return refs
