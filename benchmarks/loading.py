"""Definitions load time, each measured in a fresh Python process:

* ``example``: the default example graph through the Dagster adapter
  (``build_definitions``), then the whole code location ``databuild_assets.definitions``
  (graph + pipelines.yaml tasks and dbt assets) resolved as a code server does on start;
* ``dbt``: ``@dbt_assets`` over the manifest of a generated project of N models, resolved
  into a repository (the dagster-dbt part of loading a dbt code location).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from . import dbt_gen
from .common import log, rnd, scratch

REPO = Path(__file__).resolve().parents[1]

EXAMPLE = """
import json, time
t0 = time.perf_counter()
import dagster
t1 = time.perf_counter()
from databuild_assets import settings
from databuild_assets.cli import load_graph
from databuild_assets.dagster import build_definitions
t2 = time.perf_counter()
graph = settings.load().graph
adapter = build_definitions(load_graph(graph)).get_repository_def()
t3 = time.perf_counter()
from databuild_assets.definitions import defs
repo = defs.load_fn().get_repository_def()
t4 = time.perf_counter()
print(json.dumps({"graph": graph, "import_dagster_s": t1 - t0, "import_databuild_s": t2 - t1,
                  "graph_definitions_s": t3 - t2, "graph_assets": len(adapter.assets_defs_by_key),
                  "code_location_definitions_s": t4 - t3,
                  "code_location_assets": len(repo.assets_defs_by_key),
                  "code_location_jobs": len(repo.job_names)}))
"""

DBT = """
import json, sys, time
t0 = time.perf_counter()
import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets
t1 = time.perf_counter()
manifest, project = sys.argv[1], sys.argv[2]

@dbt_assets(manifest=manifest)
def bench_dbt(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(["build"], context=context).stream()

dbt_exe = str(__import__("pathlib").Path(sys.executable).parent / "dbt")
defs = dg.Definitions(assets=[bench_dbt], resources={
    "dbt": DbtCliResource(project_dir=project, dbt_executable=dbt_exe)})
repo = defs.get_repository_def()
t2 = time.perf_counter()
print(json.dumps({"import_dagster_and_dagster_dbt_s": t1 - t0, "load_definitions_s": t2 - t1,
                  "assets": len(repo.assets_defs_by_key)}))
"""


def _python(code: str, *args: str, env_extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABUILD_", "DAGSTER_"))}
    env["PYTHONPATH"] = str(REPO)
    env.update(env_extra or {})
    proc = subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"loading subprocess failed: {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    return {k: (rnd(v, 3) if isinstance(v, float) else v) for k, v in out.items()}


def definitions_load(dbt_models: int, real_dbt_parse: bool) -> dict:
    log("definitions load: the example (shop graph)")
    with scratch() as home:
        example = _python(EXAMPLE, env_extra={"DATABUILD_HOME": str(home),
                                              "DAGSTER_HOME": str(home / "dagster")})
    with scratch() as folder:
        project = dbt_gen.write_project(folder / "project", dbt_models)
        if real_dbt_parse:
            log(f"dbt parse of a generated project of {dbt_models} models")
            gen_s = dbt_gen.dbt_parse(project)
            how = "dbt parse of the generated project"
        else:
            gen_s = None
            dbt_gen.synthetic_manifest(project, dbt_models)
            how = ("synthetic manifest.json (dbt manifest v12 shape) written by "
                   "benchmarks/dbt_gen.py: dbt parse is too slow for --quick")
        log(f"definitions load: dagster-dbt over {dbt_models} models")
        manifest = project / "target" / "manifest.json"
        dbt = _python(DBT, str(manifest), str(project))
    dbt.update({"models": dbt_models, "manifest": how,
                "manifest_generation_s": None if gen_s is None else rnd(gen_s, 3)})
    return {"example": example, "dbt": dbt}
