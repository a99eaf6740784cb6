"""Staleness is a pure function of a catalog snapshot and the current definitions."""

from databuild_assets.core import InputRecord, Job, PartitionManifest, PartitionPattern
from databuild_assets.core.catalog import PartitionRow
from databuild_assets.core.registry import Registry
from databuild_assets.core.staleness import Assessor, Snapshot


def registry(src_version="1.0.0", code="1"):
    SRC = PartitionPattern("src/d={d}", version=src_version)
    MID = PartitionPattern("mid/d={d}", version="1.0.0")
    TOP = PartitionPattern("top/d={d}", version="1.0.0")

    class S(Job):
        label, outputs, code_version = "s", [SRC], code

    class M(Job):
        label, outputs, code_version = "m", [MID], "1"

    class T(Job):
        label, outputs, code_version = "t", [TOP], "1"

    return Registry([S(), M(), T()])


def snapshot(**changes):
    """src -> mid -> top, all live; each manifest records the input version it read."""
    dv = {"src/d=1": "v-src", "mid/d=1": "v-mid", "top/d=1": "v-top"}
    dv.update(changes.get("current", {}))
    chain = [("src/d=1", "s", None), ("mid/d=1", "m", "src/d=1"), ("top/d=1", "t", "mid/d=1")]
    snap = Snapshot()
    for ref, job, inp in chain:
        mid = "m-" + ref
        inputs = () if inp is None else (
            InputRecord(inp, "materialize", "m-" + inp, {"src/d=1": "v-src", "mid/d=1": "v-mid"}[inp]),)
        snap.manifests[mid] = PartitionManifest(
            ref=ref, job=job, config={}, config_hash="h", code_version=changes.get("code", "1"),
            dataset_version=changes.get("built_version", "1.0.0"), data_version=dv[ref],
            inputs=inputs, manifest_id=mid)
        snap.rows[ref] = PartitionRow(ref, ref.split("/")[0], "live", mid, dv[ref])
    snap.taints.update(changes.get("taints", {}))
    return snap


def test_everything_built_and_unchanged_is_live():
    a = Assessor(registry(), snapshot())
    assert [a(r).state for r in ("src/d=1", "mid/d=1", "top/d=1")] == ["live"] * 3


def test_a_minor_dataset_bump_invalidates_nothing_and_a_major_bump_is_transitive():
    a = Assessor(registry(src_version="1.3.0"), snapshot())
    assert a("top/d=1").state == "live"
    a = Assessor(registry(src_version="2.0.0"), snapshot())
    assert a("src/d=1").state == "stale"
    assert "major version changed 1.0.0 -> 2.0.0" in a("src/d=1").reasons[0]
    top = a("top/d=1")
    assert top.state == "stale"
    assert top.reasons[0].startswith("input mid/d=1 is stale: input src/d=1 is stale: dataset src")


def test_a_code_version_change_makes_the_partition_stale_with_the_reason():
    st = Assessor(registry(code="2"), snapshot())("src/d=1")
    assert st.state == "stale" and st.reasons == ("code version of job s changed 1 -> 2",)


def test_a_changed_input_data_version_makes_dependents_stale_but_equal_bytes_do_not():
    st = Assessor(registry(), snapshot(current={"src/d=1": "v-new"}))("mid/d=1")
    assert st.state == "stale" and "input src/d=1 changed" in st.reasons[0]
    # early cutoff: mid rebuilt to identical content, so top is untouched
    assert Assessor(registry(), snapshot(current={"src/d=1": "v-new"}))("top/d=1").state == "stale"
    assert Assessor(registry(), snapshot())("top/d=1").state == "live"


def test_a_taint_shows_on_the_partition_and_transitively_downstream():
    a = Assessor(registry(), snapshot(taints={"m-src/d=1": "bad upstream file"}))
    assert a("src/d=1").state == "tainted"
    assert a("mid/d=1").reasons == ("input src/d=1 was read at a tainted version: bad upstream file",)
    assert a("top/d=1").state == "stale"
    assert "input mid/d=1 is stale: input src/d=1 was read at a tainted version" in a("top/d=1").reasons[0]


def test_building_partitions_of_dead_builds_fall_back_to_what_was_there():
    snap = snapshot()
    snap.rows["mid/d=1"] = PartitionRow("mid/d=1", "mid", "building", "m-mid/d=1", "v-mid",
                                        owner="dead", prev_state="live")
    snap.rows["new/d=1"] = PartitionRow("new/d=1", "new", "building", owner="dead",
                                        prev_state="missing")
    a = Assessor(registry(), snap)
    assert a("mid/d=1").state == "live"
    assert a("new/d=1").state == "missing" and "died" in a("new/d=1").reasons[0]
    snap.alive.add("dead")
    assert Assessor(registry(), snap)("mid/d=1").state == "building"


def test_a_major_dataset_rollback_invalidates_like_a_bump():
    a = Assessor(registry(src_version="1.0.0"), snapshot(built_version="2.0.0"))
    assert a("src/d=1").state == "stale"
    assert "major version changed 2.0.0 -> 1.0.0" in a("src/d=1").reasons[0]
    assert Assessor(registry(src_version="v2.4.1"), snapshot(built_version="2.0.0"))(
        "src/d=1").state == "live"


def test_semver_code_versions_mask_minor_and_patch_changes_but_not_major_ones():
    built = snapshot(code="1.2.0")
    assert Assessor(registry(code="1.3.7"), built)("src/d=1").state == "live"
    assert Assessor(registry(code="v1.2.0"), built)("src/d=1").state == "live"
    for code in ("2.0.0", "0.9.0"):
        st = Assessor(registry(code=code), built)("src/d=1")
        assert st.state == "stale" and st.reasons == (f"code version of job s changed 1.2.0 -> {code}",)


def test_a_plain_string_code_version_invalidates_on_any_change():
    assert Assessor(registry(code="abc"), snapshot(code="abd"))("src/d=1").state == "stale"
    assert Assessor(registry(code="1.2.0"), snapshot(code="1.2"))("src/d=1").state == "stale"
    assert Assessor(registry(code="abc"), snapshot(code="abc"))("src/d=1").state == "live"


def test_the_default_versions_are_0_0_0_and_a_v_prefix_is_accepted():
    assert PartitionPattern("x/d={d}").version == "0.0.0" and Job.code_version == "0.0.0"
    assert PartitionPattern("x/d={d}", version="v0.0.0").major == 0


def test_a_live_partition_whose_rebuild_failed_stays_live_and_says_so():
    snap = snapshot()
    row = snap.rows["src/d=1"]
    snap.rows["src/d=1"] = PartitionRow(row.ref, row.dataset, "live", row.manifest_id,
                                        row.data_version, error="injected failure")
    a = Assessor(registry(), snap)
    assert a("src/d=1").state == "live"
    assert a("src/d=1").label == "live (last rebuild failed: injected failure)"
    assert a("top/d=1").state == "live"


def test_a_damaged_file_shows_as_damaged_and_dependents_keep_their_state():
    snap = snapshot()
    snap.damaged["m-mid/d=1"] = "its data file mid/x.parquet is missing"
    a = Assessor(registry(), snap)
    assert a("mid/d=1").state == "damaged" and "missing" in a("mid/d=1").reasons[0]
    assert a("top/d=1").state == "live"
