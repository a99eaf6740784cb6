"""Dagster entry point. Thin: load the configured graph and pipelines, apply the adapters.

Loaded lazily (``@dg.definitions``) so importing this module reads no environment and
builds nothing (the dbt manifest is prepared on first load).
"""

import dagster as dg

from databuild_assets import settings
from databuild_assets.cli import load_graph
from databuild_assets.dagster import build_definitions


@dg.definitions
def defs() -> dg.Definitions:
    conf = settings.load()
    parts = [build_definitions(load_graph(conf.graph))]
    if conf.pipelines_file.is_file():
        from resources.dagster_pipelines import pipeline_definitions
        from resources.pipelines import load

        parts.append(pipeline_definitions(load(conf.pipelines_file)))
    return dg.Definitions.merge(*parts)
