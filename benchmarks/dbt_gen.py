"""A generated dbt project of N models (a binary tree of refs over 10 roots) and its
manifest, either from a real ``dbt parse`` or written synthetically in dbt's manifest v12
shape (the fields dagster-dbt reads), when parsing would be too slow."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

ROOTS = 10


def _name(i: int) -> str:
    return f"m{i:04d}"


def _parent(i: int) -> int | None:
    return None if i < ROOTS else i // 2


def _sql(i: int) -> str:
    p = _parent(i)
    return "select 1 as id\n" if p is None else f"select * from {{{{ ref('{_name(p)}') }}}}\n"


def write_project(folder: Path, n: int) -> Path:
    (folder / "models").mkdir(parents=True, exist_ok=True)
    (folder / "dbt_project.yml").write_text(
        'name: bench\nversion: "1.0"\nprofile: bench\nmodel-paths: ["models"]\n')
    (folder / "profiles.yml").write_text(
        "bench:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {folder / 'bench.duckdb'}\n")
    for i in range(n):
        (folder / "models" / f"{_name(i)}.sql").write_text(_sql(i))
    return folder


def dbt_parse(folder: Path, timeout: float = 600) -> float:
    """Runs ``dbt parse`` (writes target/manifest.json); returns its seconds."""
    dbt = Path(sys.executable).parent / "dbt"
    started = time.perf_counter()
    proc = subprocess.run([str(dbt), "parse", "--project-dir", str(folder), "--profiles-dir",
                           str(folder)], capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"dbt parse failed: {proc.stdout[-1500:]}{proc.stderr[-1500:]}")
    return time.perf_counter() - started


def _node(i: int) -> dict:
    name, p = _name(i), _parent(i)
    uid = f"model.bench.{name}"
    config = {"enabled": True, "alias": None, "schema": None, "database": None, "tags": [],
              "meta": {}, "group": None, "materialized": "view", "persist_docs": {},
              "post-hook": [], "pre-hook": [], "quoting": {}, "column_types": {},
              "full_refresh": None, "unique_key": None, "on_schema_change": "ignore",
              "on_configuration_change": "apply", "grants": {}, "packages": [],
              "docs": {"show": True, "node_color": None},
              "contract": {"enforced": False, "alias_types": True}, "access": "protected"}
    return {
        "database": "bench", "schema": "main", "name": name, "resource_type": "model",
        "package_name": "bench", "path": f"{name}.sql", "original_file_path": f"models/{name}.sql",
        "unique_id": uid, "fqn": ["bench", name], "alias": name,
        "checksum": {"name": "sha256", "checksum": hashlib.sha256(_sql(i).encode()).hexdigest()},
        "config": config, "tags": [], "description": "", "columns": {}, "meta": {},
        "group": None, "docs": {"show": True, "node_color": None}, "patch_path": None,
        "build_path": None, "unrendered_config": {}, "created_at": 0.0,
        "relation_name": f'"bench"."main"."{name}"', "raw_code": _sql(i).strip(),
        "doc_blocks": [], "language": "sql",
        "refs": [] if p is None else [{"name": _name(p), "package": None, "version": None}],
        "sources": [], "metrics": [], "functions": [],
        "depends_on": {"macros": [], "nodes": [] if p is None else [f"model.bench.{_name(p)}"]},
        "compiled_path": None, "contract": {"enforced": False, "alias_types": True,
                                            "checksum": None},
        "access": "protected", "constraints": [], "version": None, "latest_version": None,
        "deprecation_date": None, "primary_key": [], "time_spine": None,
    }


def synthetic_manifest(folder: Path, n: int) -> Path:
    nodes = {f"model.bench.{_name(i)}": _node(i) for i in range(n)}
    parents = {uid: node["depends_on"]["nodes"] for uid, node in nodes.items()}
    children: dict[str, list[str]] = {uid: [] for uid in nodes}
    for uid, ps in parents.items():
        for p in ps:
            children[p].append(uid)
    manifest = {
        "metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v12.json",
                     "dbt_version": metadata.version("dbt-core"), "project_name": "bench",
                     "adapter_type": "duckdb", "env": {}, "invocation_id": "synthetic",
                     "send_anonymous_usage_stats": False,
                     "quoting": {"database": True, "schema": True, "identifier": True,
                                 "column": None}},
        "nodes": nodes, "sources": {}, "macros": {}, "docs": {}, "exposures": {},
        "metrics": {}, "groups": {}, "selectors": {}, "disabled": {}, "parent_map": parents,
        "child_map": children, "group_map": {}, "saved_queries": {}, "semantic_models": {},
        "unit_tests": {}, "functions": {},
    }
    path = folder / "target" / "manifest.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest))
    return path
