"""Run a pipeline of pipelines.yaml now, as a Dagster run (``databuild pipelines run``):
the entry point that gives the pipeline's ops their DatabuildResource from the settings."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from . import settings
from .dagster.resource import DatabuildResource


def run_pipeline(path: str, name: str, instance: dg.DagsterInstance, tags: dict | None = None,
                 run_config: dict | None = None, tick: dt.datetime | None = None,
                 databuild: DatabuildResource | None = None):
    """Run one pipeline as a Dagster run in ``instance`` (so its task locks apply).
    ``tick``: render tick variables as if scheduled then (default: now). ``databuild``:
    default, the one ``definitions.py`` builds from the settings."""
    from resources.dagster_pipelines import launch_pipeline

    from .definitions import databuild_resource

    return launch_pipeline(path, name, instance, databuild or databuild_resource(settings.load()),
                           tags=tags, run_config=run_config, tick=tick)
