"""Dagster definitions for the automation integration tests, loaded by a real
``dagster-daemon``: the controllable test graph (``tests.support.graphs``; failures, flaky
and slow refs through DBTEST_OPTS) with fast sensors and short, seeded retry backoff.

Env: DBTEST_ROOT, DBTEST_OPTS, DATABUILD_CATALOG_URL (and DATABUILD_WEBHOOK_URL)."""

import os
import random

from databuild_assets.dagster import build_definitions
from sensors import RetryPolicy
from tests.support.graphs import graph_from_env

defs = build_definitions(
    graph_from_env(), catalog_url=os.environ["DATABUILD_CATALOG_URL"],
    data_root=os.path.join(os.environ["DBTEST_ROOT"], "data"),
    automation={"interval_seconds": 1, "window_days": 10, "rng": random.Random(0),
                "retry_policy": RetryPolicy(base_seconds=1.0, cap_seconds=5.0, jitter=0.5)})
