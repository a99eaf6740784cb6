"""CLI plugins: command groups that packages add to ``databuild`` through an entry point.

A plugin declares, in its pyproject.toml::

    [project.entry-points."databuild.cli_plugins"]
    podcast = "databuild_assets.examples.podcast_reviews.cli:register"

and ``register(cli: click.Group, console)`` adds its commands; they receive the CLI's
context object (``databuild_assets.cli.context.Ctx``) through ``click.pass_obj``. Examples register this way
so the product CLI holds no example's commands. A plugin that fails to import or register is
reported on stderr and skipped: the product commands keep working without it.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import click
from rich.markup import escape

GROUP = "databuild.cli_plugins"


def load_plugins(cli: click.Group, console, err) -> list[str]:
    """Register every installed plugin on ``cli``; the names of those that loaded."""
    loaded = []
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            ep.load()(cli, console)
        except Exception as e:  # noqa: BLE001 - a plugin is foreign code: any failure is a warning
            err.print(f"[yellow]warning:[/] CLI plugin {escape(repr(ep.name))} ({escape(ep.value)}) "
                      f"was not loaded: {type(e).__name__}: {escape(str(e))}; its commands are unavailable "
                      f"(reinstall the package that provides it, e.g. `make install`)",
                      markup=True, soft_wrap=True)
            continue
        loaded.append(ep.name)
    return loaded
