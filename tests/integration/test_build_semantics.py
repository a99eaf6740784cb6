"""Pruning, staleness, early cutoff and failure recording against real catalogs and Parquet."""

import pandas as pd
import pytest

from databuild_assets.core import Catalog, JobOutputError, data_version_of
from databuild_assets.core.executor import execute_job
from tests.support.graphs import executions, land, make_graph

DAY = "2024-01-14"
WEEK = [f"2024-01-{d:02d}" for d in range(8, 15)]
TRAIL = f"trail/date={DAY}"
CUBE = [f"cube/color={c}/size={s}/date={DAY}" for c in ("red", "blue") for s in ("s", "m", "l")]


@pytest.fixture
def built(tmp_path, catalog_url):
    catalog = Catalog.open(catalog_url)
    g = make_graph(tmp_path, catalog)
    result = g.build([TRAIL, *CUBE, f"fx/date={DAY}"])
    assert result.ok, result.failed
    return g, catalog, tmp_path


def test_after_a_build_replanning_the_same_refs_plans_nothing(built):
    g, _c, root = built
    assert g.plan([TRAIL, *CUBE]).nodes == []
    before = len(executions(root))
    assert g.build([TRAIL, *CUBE]).manifests == []
    assert len(executions(root)) == before
    assert all(s.state == "live" for s in g.status([TRAIL, *CUBE]).values())


def test_live_data_is_exactly_what_the_manifest_says(built):
    g, c, _root = built
    for m in c.manifest_history(limit=100):
        df = g.store.read(m.path)
        assert data_version_of(df) == m.data_version and len(df) == m.row_count
    trail = c.manifest_history(ref=TRAIL)[0]
    assert {i.ref for i in trail.inputs} == {f"daily/date={d}" for d in WEEK}


def test_tainting_one_upstream_partition_replans_exactly_it_and_its_dependents(built):
    g, _c, _root = built
    g.taint(f"src/date={DAY}", "landing file was truncated")
    st = g.status([f"src/date={DAY}", f"daily/date={DAY}", TRAIL, CUBE[0], f"daily/date={WEEK[0]}"])
    assert st[f"src/date={DAY}"].state == "tainted"
    assert st[TRAIL].state == "stale"
    assert "tainted" in st[TRAIL].reasons[0]
    assert st[f"daily/date={WEEK[0]}"].state == "live"
    plan = g.plan([TRAIL, *CUBE])
    assert set(plan.output_refs) == {
        f"src/date={DAY}", f"daily/date={DAY}", f"part_a/date={DAY}", f"part_b/date={DAY}",
        TRAIL, *CUBE}


def test_a_minor_version_bump_replans_nothing_and_a_major_bump_replans_the_dataset_and_dependents(
        built):
    _g, c, root = built
    minor = make_graph(root, c, versions={"daily": "1.1.0"})
    assert minor.plan([TRAIL, *CUBE]).nodes == []
    major = make_graph(root, c, versions={"daily": "2.0.0"})
    plan = major.plan([TRAIL, *CUBE])
    assert {n.job for n in plan.nodes} == {"daily", "split", "cube", "trail"}
    assert len([n for n in plan.nodes if n.job == "daily"]) == 7
    assert "major version changed 1.0.0 -> 2.0.0" in plan.reasons[f"daily/date={DAY}"][1]


def test_a_forced_rebuild_that_writes_identical_content_leaves_downstream_live(built):
    g, _c, root = built
    before = len(executions(root))
    result = g.build([f"daily/date={DAY}"], force=True)
    assert len(result.manifests) == 1 and len(executions(root)) == before + 1
    assert g.status([TRAIL])[TRAIL].state == "live"
    assert g.plan([TRAIL, *CUBE]).nodes == []


def test_changed_upstream_content_rebuilds_its_chain_but_early_cutoff_stops_unchanged_outputs(
        built):
    g, _c, root = built
    land(root, DAY, [3, 2, 1])  # same sum, different rows: src changes, daily's total does not
    g.build([f"src/date={DAY}"], force=True)
    assert g.status([f"daily/date={DAY}"])[f"daily/date={DAY}"].state == "stale"
    result = g.build([TRAIL])
    built_refs = {m.ref for m in result.manifests}
    assert built_refs == {f"daily/date={DAY}"}  # trail was planned, then cut off
    assert TRAIL in result.cut_off and g.status([TRAIL])[TRAIL].state == "live"


def test_a_code_version_change_rebuilds_that_job_and_says_why(built):
    _g, c, root = built
    g2 = make_graph(root, c, code={"trail": "2"})
    assert g2.status([TRAIL])[TRAIL].reasons == ("code version of job trail changed 1 -> 2",)
    assert [n.job for n in g2.plan([TRAIL]).nodes] == ["trail"]


def test_a_query_input_that_is_absent_is_read_as_none_and_never_built(tmp_path, catalog_url):
    g = make_graph(tmp_path, Catalog.open(catalog_url))
    result = g.build([f"daily/date={DAY}"])
    assert result.ok and not any(m.ref.startswith("fx/") for m in result.manifests)
    m = [m for m in result.manifests if m.ref == f"daily/date={DAY}"][0]
    fx = [i for i in m.inputs if i.ref == f"fx/date={DAY}"][0]
    assert fx.dep_type == "query" and fx.manifest_id is None
    assert float(g.store.read(m.path).total[0]) == 6.0


def test_failures_are_recorded_per_partition_and_dependents_are_blocked(tmp_path, catalog_url):
    c = Catalog.open(catalog_url)
    bad = f"src/date={WEEK[3]}"
    g = make_graph(tmp_path, c, fail={bad})
    result = g.build([TRAIL])
    assert not result.ok
    assert set(result.failed) == {bad}
    assert "injected failure" in result.failed[bad]
    assert f"daily/date={WEEK[3]}" in result.blocked and TRAIL in result.blocked
    st = g.status([bad, f"src/date={WEEK[2]}", TRAIL])
    assert st[bad].state == "failed" and st[f"src/date={WEEK[2]}"].state == "live"
    assert st[TRAIL].state == "missing"
    kinds = {e.kind for e in c.events(build_id=result.build_id, limit=1000)}
    assert {"requested", "planned", "scheduled", "building", "available", "failed",
            "cancelled"} <= kinds
    # after the fix, only what is missing runs
    fixed = make_graph(tmp_path, c)
    again = fixed.build([TRAIL])
    assert again.ok
    assert {m.ref for m in again.manifests} == {bad, f"daily/date={WEEK[3]}", TRAIL}


def test_a_job_writing_an_undeclared_ref_or_skipping_a_declared_one_fails_clearly(
        tmp_path, catalog_url):
    from databuild_assets.core import Graph, Job, JobConfig, PartitionPattern

    P = PartitionPattern("p/d={d}")

    class Rogue(Job):
        label, outputs = "rogue", [P]

        def configure(self, refs):
            return [JobConfig(outputs=refs)]

        def run(self, config, ctx):
            if "p/d=1" in config.outputs:
                ctx.write("p/d=99", pd.DataFrame({"x": [1]}))

    g = Graph([Rogue()], Catalog.open(catalog_url), tmp_path / "data")
    r = g.build(["p/d=1"])
    assert "wrote 'p/d=99', which is not an output" in r.failed["p/d=1"]
    r = g.build(["p/d=2"])
    assert "did not write declared output(s) p/d=2" in r.failed["p/d=2"]
    assert {s.state for s in g.status(["p/d=1", "p/d=2", "p/d=99"]).values()} == {"failed", "missing"}
    assert not (tmp_path / "data" / "p" / "d=99").exists()
    with pytest.raises(JobOutputError, match="did not write"):
        execute_job(Rogue(), ["p/d=3"], catalog=Catalog.open(catalog_url),
                    data_root=tmp_path / "d2")


def test_a_batched_config_records_per_partition_inputs_so_staleness_stays_per_partition(
        tmp_path, catalog_url):
    from databuild_assets.core import Graph, Job, JobConfig, PartitionPattern, materialize

    SRC = PartitionPattern("s/d={d}")
    OUT = PartitionPattern("o/d={d}")

    class Src(Job):
        label, outputs = "src", [SRC]

        def configure(self, refs):
            return [JobConfig(outputs=[r]) for r in refs]

        def run(self, config, ctx):
            (ref,) = config.outputs
            ctx.write(ref, pd.DataFrame({"v": [ref]}))

    class Batched(Job):
        label, outputs = "batched", [OUT]

        def configure(self, refs):  # one config for the whole range
            return [JobConfig(outputs=refs, inputs=materialize(*[r.replace("o/", "s/") for r in refs]))]

        def inputs_of(self, config, output):
            return {output.replace("o/", "s/")}

        def run(self, config, ctx):
            for ref in sorted(config.outputs):
                ctx.write(ref, ctx.read(ref.replace("o/", "s/")))

    g = Graph([Src(), Batched()], Catalog.open(catalog_url), tmp_path / "data")
    assert g.build(["o/d=1", "o/d=2", "o/d=3"]).ok
    g.taint("s/d=2", "bad")
    st = g.status(["o/d=1", "o/d=2", "o/d=3"])
    assert [st[r].state for r in ("o/d=1", "o/d=2", "o/d=3")] == ["live", "stale", "live"]
    assert [n.outputs for n in g.plan(["o/d=1", "o/d=2", "o/d=3"]).nodes][-1] == {"o/d=2"}
