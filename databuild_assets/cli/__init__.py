"""The ``databuild`` command line, one module per command family.

``commands`` holds the click group with ``plan``, ``build`` and ``ui`` and the ``main`` entry
point (the console script); ``context`` the object every command gets; ``inspect_cmds``,
``tasks``, ``dagster_cmds`` and ``automation`` the other commands; ``pipeline_run`` what
``pipelines run`` prints; ``plugins`` the entry-point group through which other packages (the
podcast example) add commands. This module re-exports what callers import from
``databuild_assets.cli``.
"""

from __future__ import annotations

from ..graph_loader import load_graph  # tests and benchmarks load "module:attr" like the CLI
from .commands import cli, main
from .context import Ctx, refs_of
from .plugins import GROUP as PLUGIN_GROUP
from .plugins import load_plugins

__all__ = ["PLUGIN_GROUP", "Ctx", "cli", "load_graph", "load_plugins", "main", "refs_of"]
