"""Dagster entry point. Thin: load the configured graph and pipelines, apply the adapters.

Loaded lazily (``@dg.definitions``) so importing this module reads no environment and
builds nothing (the dbt manifest is prepared on first load). On top of the adapters:
the `request_build` job, schedules of partitioned asset jobs that declare one, and the
failure-class hook that decides Dagster's run retries (``dagster/retries.py``).
"""

import logging

import dagster as dg

from databuild_assets import settings
from databuild_assets.core.redact import split_url_password
from databuild_assets.dagster import build_definitions
from databuild_assets.dagster.resource import DatabuildResource
from databuild_assets.graph_loader import load_graph

log = logging.getLogger(__name__)


def databuild_resource(conf: settings.Settings) -> DatabuildResource:
    """The DatabuildResource of the settings. Dagster stores resource config in its job
    snapshots: a catalog URL with a password goes in as ``dg.EnvVar`` (its variable's name)."""
    public, password = split_url_password(conf.catalog_url)
    return DatabuildResource(
        catalog_url=dg.EnvVar("DATABUILD_CATALOG_URL") if password else public,
        data_root=str(conf.data_root), catalog_password_env=settings.CATALOG_PASSWORD_ENV,
        home=str(conf.home), airbyte_home=str(conf.airbyte_home), job_timeout=conf.job_timeout)


@dg.definitions
def defs() -> dg.Definitions:
    from databuild_assets.dagster.request_build import request_build_job
    from databuild_assets.dagster.retries import with_retry_classes
    from databuild_assets.dagster.schedules import asset_job_schedules

    conf = settings.load()
    if not conf.dagster_home_shared:
        log.warning("DAGSTER_HOME is not set (or is a temporary folder): runs go to a "
                    "throwaway instance that `databuild ui` does not show. Use `databuild "
                    "dagster ...` or export DAGSTER_HOME=%s", conf.dagster_home)
    from sensors import notifier_for

    parts, datasets = [], set()
    databuild = databuild_resource(conf)
    if conf.graph.strip().lower() != "none":  # DATABUILD_GRAPH=none: pipelines only
        graph = load_graph(conf.graph).with_defaults(conf.catalog_url, conf.data_root,
                                                     conf.job_timeout)
        datasets = set(graph.registry.patterns)  # dbt models of these names are theirs
        assets = build_definitions(graph, databuild=databuild, automation={
            "notifier": notifier_for(settings.webhook_url())})
        parts = [assets, dg.Definitions(jobs=[request_build_job(graph)],
                                        schedules=asset_job_schedules(graph, assets.jobs or []))]
    if conf.pipelines_file.is_file():
        from resources.dagster_pipelines import pipeline_definitions
        from resources.pipelines import load

        parts.append(pipeline_definitions(load(conf.pipelines_file), databuild,
                                          target=conf.target, datasets=datasets))
    from resources.locks import dead_lock_sensor  # task locks of dead runs freed (daemon)

    parts.append(dg.Definitions(sensors=[dead_lock_sensor()]))
    return with_retry_classes(dg.Definitions.merge(*parts))
