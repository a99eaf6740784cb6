"""dbt models as Dagster assets (tests as asset checks), built from the lazily prepared
manifest. One asset key per table: sources named `databuild` and models that a databuild
job builds (``datasets``) take the databuild dataset's key; those models are left out of
the dbt assets, so the databuild job is their single definition and lineage is one graph."""


import json
import os
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, dbt_assets

from . import pipelines as pl
from .dbt import DEFAULT_PROJECT, PROFILE, dbt_env, dbt_executable, dbt_manifest, profiles_dir
from .locks import lock_key
from .shell import guarded_executable  # own process group, timeout, dies with the run


class Translator(DagsterDbtTranslator):
    def __init__(self, datasets=frozenset(), **kwargs):
        super().__init__(**kwargs)
        self.datasets = frozenset(datasets)

    def get_asset_key(self, dbt_resource_props) -> dg.AssetKey:
        name = dbt_resource_props["name"]
        if dbt_resource_props["resource_type"] == "source":
            if dbt_resource_props["source_name"] == "databuild":
                return dg.AssetKey([name])
            return dg.AssetKey(["airbyte", dbt_resource_props["source_name"], name])
        if name in self.datasets:  # built by a databuild job: the same asset node
            return dg.AssetKey(name.split("/"))
        return dg.AssetKey(["warehouse", name])

    def get_group_name(self, dbt_resource_props) -> str:
        return "dbt"


@contextmanager
def _exported(env: dict[str, str]):
    """``env`` in os.environ while dbt is started (DbtCliResource copies it), then restored."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class DbtRunConfig(dg.Config):
    target: str = "dev"
    date: str = ""  # the partition date passed as --vars {date: ...}


def _models_built_by_databuild(manifest, datasets) -> list[str]:
    data = json.loads(Path(manifest).read_text()) if not isinstance(manifest, dict) else manifest
    return sorted(n["name"] for n in data.get("nodes", {}).values()
                  if n.get("resource_type") in ("model", "seed", "snapshot")
                  and n["name"] in datasets)


def dbt_definitions(pf: pl.PipelineFile, datasets=frozenset(),
                    target: str | None = None) -> list[dg.AssetsDefinition]:
    """``datasets``: databuild dataset names (dbt models of the same name are theirs);
    ``target``: the run's warehouse target (settings' DATABUILD_TARGET, passed in), which
    also picks the dbt task-lock pool."""
    project = pf.dbt_project_dir or DEFAULT_PROJECT
    if not (project / "dbt_project.yml").exists() or not pf.targets:
        return []
    manifest = dbt_manifest(str(project))
    default_target = target if target in pf.targets else (
        "dev" if "dev" in pf.targets else sorted(pf.targets)[0])
    excluded = _models_built_by_databuild(manifest, set(datasets))

    class RunConfig(DbtRunConfig):
        target: str = default_target

    @dbt_assets(manifest=manifest, dagster_dbt_translator=Translator(datasets),
                name="dbt_models", exclude=" ".join(excluded) or None,
                pool=lock_key("dbt-build", {}, default_target, project))
    def _models(context: dg.AssetExecutionContext, config: RunConfig):
        target = pf.targets[config.target]
        args = ["build"] + (["--vars", json.dumps({"date": config.date})] if config.date else [])
        with profiles_dir(target) as pdir:
            dbt = DbtCliResource(project_dir=str(project), profiles_dir=str(pdir),
                                 profile=PROFILE, target=target.name,
                                 dbt_executable=guarded_executable(pdir, dbt_executable()))
            with _exported(dbt_env(target)):  # the target's password_env, for dbt only
                invocation = dbt.cli(args, context=context)  # copies os.environ, starts dbt
            yield from invocation.stream()

    return [_models]


__all__ = ["dbt_definitions", "Translator", "DbtRunConfig", "Path"]
