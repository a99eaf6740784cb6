"""Dagster entry point. Thin: load the configured graph and apply the adapter once.

Loaded lazily (``@dg.definitions``) so importing this module reads no environment.
"""

import dagster as dg

from databuild_assets import settings
from databuild_assets.cli import load_graph
from databuild_assets.dagster import build_definitions


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(load_graph(settings.load().graph))
