"""CLI plugins: the example's commands come through the entry-point group, and a plugin that
fails to load is a warning, never a broken `databuild`."""

from __future__ import annotations

import io
from importlib.metadata import EntryPoint

import click
from rich.console import Console

from databuild_assets.cli import plugins as cli_plugins


def _group() -> click.Group:
    @click.group()
    def cli():
        pass

    @cli.command()
    def status():
        click.echo("ok")

    return cli


def _load(monkeypatch, *eps: EntryPoint) -> tuple[click.Group, list[str], str]:
    monkeypatch.setattr(cli_plugins, "entry_points", lambda group: [
        e for e in eps if e.group == group])
    cli, out = _group(), io.StringIO()
    err = Console(file=out, width=400, highlight=False)
    loaded = cli_plugins.load_plugins(cli, Console(file=io.StringIO()), err)
    return cli, loaded, out.getvalue()


def test_the_podcast_example_registers_its_commands_as_a_plugin(monkeypatch):
    ep = EntryPoint("podcast", "databuild_assets.examples.podcast_reviews.cli:register",
                    cli_plugins.GROUP)
    cli, loaded, warnings = _load(monkeypatch, ep)
    assert loaded == ["podcast"] and warnings == ""
    assert {"demo", "sample-data", "dlq", "status"} <= set(cli.commands)


def test_the_installed_package_declares_the_podcast_plugin():
    from importlib.metadata import entry_points

    names = {e.name: e.value for e in entry_points(group=cli_plugins.GROUP)}
    assert names.get("podcast") == "databuild_assets.examples.podcast_reviews.cli:register"


def _boom(cli, console):
    raise RuntimeError("[bad] plugin")


def test_a_plugin_that_cannot_be_imported_or_registered_is_a_warning(monkeypatch):
    missing = EntryPoint("missing", "no_such_databuild_plugin:register", cli_plugins.GROUP)
    broken = EntryPoint("broken", "tests.unit.test_cli_plugins:_boom", cli_plugins.GROUP)
    cli, loaded, warnings = _load(monkeypatch, missing, broken)
    assert loaded == []
    assert "CLI plugin 'missing' (no_such_databuild_plugin:register) was not loaded: " \
           "ModuleNotFoundError" in warnings
    assert "CLI plugin 'broken'" in warnings and "RuntimeError: [bad] plugin" in warnings
    assert set(cli.commands) == {"status"}  # the product's commands are untouched
