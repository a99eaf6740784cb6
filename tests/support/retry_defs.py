"""The controllable test graph as a code location with databuild's failure-class hook, as
the real code location applies it (``databuild_assets.definitions``). No automation sensors:
only Dagster's own run retries act. Env: DBTEST_ROOT, DBTEST_OPTS, DATABUILD_CATALOG_URL."""

import os

from databuild_assets.dagster import build_definitions
from databuild_assets.dagster.retries import with_retry_classes
from tests.support.graphs import graph_from_env

defs = with_retry_classes(build_definitions(
    graph_from_env(), catalog_url=os.environ["DATABUILD_CATALOG_URL"],
    data_root=os.path.join(os.environ["DBTEST_ROOT"], "data"), automation=False))
