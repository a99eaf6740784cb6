"""External executables are jobs like any other, and their failures are clear."""

import json
import sys
from pathlib import Path

import pytest

from databuild_assets.core import (
    Catalog,
    ExecutableJob,
    ExecutableJobError,
    Graph,
    PartitionPattern,
)
from tests.support.graphs import make_graph

EXE = [sys.executable, str(Path(__file__).parents[1] / "support" / "exe_job.py")]


def graph(tmp_path, catalog_url, command=EXE):
    base = make_graph(tmp_path, Catalog.open(catalog_url))
    ext = ExecutableJob("external", command, [PartitionPattern("ext/date={date}",
                                                               dims={"date": "date"})])
    return Graph(base.jobs + [ext], base.catalog, base.data_root)


def test_an_executable_job_plans_runs_and_records_manifests(tmp_path, catalog_url):
    g = graph(tmp_path, catalog_url)
    plan = g.plan(["ext/date=2024-01-14"])
    assert [n.job for n in plan.nodes] == ["load_src", "daily", "external"]
    result = g.build(["ext/date=2024-01-14"])
    assert result.ok, result.failed
    m = g.catalog.manifest_history(ref="ext/date=2024-01-14")[0]
    assert m.metadata == {"scale": 10.0} and m.config["args"] == ["--scale", "10"]
    assert float(g.store.read(m.path).scaled[0]) == 60.0
    assert g.plan(["ext/date=2024-01-14"]).nodes == []


def test_a_crashing_executable_fails_its_partition_with_its_exit_code_and_stderr(
        tmp_path, catalog_url):
    g = graph(tmp_path, catalog_url)
    result = g.build(["ext/date=2024-01-13"])
    msg = result.failed["ext/date=2024-01-13"]
    assert "exited with code 3" in msg and "boom: upstream schema drift" in msg
    assert g.status(["ext/date=2024-01-13"])["ext/date=2024-01-13"].state == "failed"
    assert not (tmp_path / "data" / "ext").exists()


def test_protocol_violations_and_missing_programs_are_clear_errors(tmp_path, catalog_url):
    g = graph(tmp_path, catalog_url)
    with pytest.raises(ExecutableJobError, match="printed invalid JSON"):
        g.registry.jobs["external"].configure(["ext/date=garbage"])
    g2 = graph(tmp_path, catalog_url, command=["/nonexistent/prog"])
    with pytest.raises(ExecutableJobError, match="not found"):
        g2.plan(["ext/date=2024-01-01"])


def test_config_env_reaches_the_program_on_top_of_the_inherited_environment_and_args_are_argv(
        tmp_path, catalog_url):
    from tests.support.probe_graph import make as probe

    config = {"args": ["--mode", "fast"], "env": {"PROBE_VAR": "hello", "OTHER": "x y"}}
    g = probe(Catalog.open(catalog_url), tmp_path / "data", config)
    result = g.build(["probe/d=1"])
    assert result.ok, result.failed
    row = g.store.read(result.manifests[0].path).iloc[0]
    assert json.loads(row.argv) == ["--mode", "fast"]  # argv, after 'exec'
    assert json.loads(row.stdin_args) == ["--mode", "fast"]  # and still in the request
    assert json.loads(row.arrived) == {"PROBE_VAR": True, "OTHER": True}
    assert bool(row.has_path) and bool(row.stdin_env_ok)
