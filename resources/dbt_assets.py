"""dbt models as Dagster assets (tests as asset checks), built from the lazily prepared
manifest. Sources named `databuild` map onto databuild datasets, so lineage runs from the
ingested partitions through dbt models."""


import json
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from . import pipelines as pl
from .dbt import DEFAULT_PROJECT, PROFILE, dbt_executable, dbt_manifest, profiles_dir
from .locks import lock_key


class Translator(DagsterDbtTranslator):
    def get_asset_key(self, dbt_resource_props) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            if dbt_resource_props["source_name"] == "databuild":
                return dg.AssetKey([dbt_resource_props["name"]])
            return dg.AssetKey(["airbyte", dbt_resource_props["source_name"],
                                dbt_resource_props["name"]])
        return dg.AssetKey(["warehouse", dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props) -> str:
        return "dbt"


class DbtRunConfig(dg.Config):
    target: str = "dev"
    date: str = ""  # the partition date passed as --vars {date: ...}


def dbt_definitions(pf: pl.PipelineFile) -> list[dg.AssetsDefinition]:
    project = pf.dbt_project_dir or DEFAULT_PROJECT
    if not (project / "dbt_project.yml").exists() or not pf.targets:
        return []
    manifest = dbt_manifest(str(project))
    default_target = "dev" if "dev" in pf.targets else sorted(pf.targets)[0]

    @dbt_assets(manifest=manifest, dagster_dbt_translator=Translator(), name="dbt_models",
                pool=lock_key("dbt-build", {}, default_target, project))
    def _models(context: dg.AssetExecutionContext, config: DbtRunConfig):
        target = pf.targets[config.target]
        args = ["build"] + (["--vars", json.dumps({"date": config.date})] if config.date else [])
        with profiles_dir(target) as pdir:
            dbt = DbtCliResource(project_dir=str(project), profiles_dir=str(pdir),
                                 profile=PROFILE, target=target.name,
                                 dbt_executable=dbt_executable())
            yield from dbt.cli(args, context=context).stream()

    return [_models]


__all__ = ["dbt_definitions", "Translator", "DbtRunConfig", "Path"]
