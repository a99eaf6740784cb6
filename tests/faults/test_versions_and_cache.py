"""Versions decide what is stale (any major difference, both ways); reverting code hits the
action cache instead of running the job."""

from rich.console import Console

from databuild_assets.core import Catalog
from databuild_assets.progress import BuildProgress
from tests.faults.graph import executions, make_graph

D = "2024-02-01"
MID, TOP = f"mid/d={D}", f"top/d={D}"


def test_rolling_a_dataset_major_version_back_invalidates_its_partitions(tmp_path, catalog_url):
    c = Catalog.open(catalog_url)
    v2 = make_graph(tmp_path, c, versions={"mid": "2.0.0"})
    assert v2.build([TOP]).ok
    back = make_graph(tmp_path, c, versions={"mid": "v1.4.0"})
    st = back.status([MID, TOP])
    assert st[MID].state == "stale"
    assert "major version changed 2.0.0 -> v1.4.0" in st[MID].reasons[0]
    assert st[TOP].state == "stale"
    assert {n.job for n in back.plan([TOP]).nodes} == {"mid", "top"}


def test_a_minor_code_bump_rebuilds_nothing_and_a_major_one_rebuilds_the_job(
        tmp_path, catalog_url):
    c = Catalog.open(catalog_url)
    assert make_graph(tmp_path, c).build([TOP]).ok
    minor = make_graph(tmp_path, c, code={"mid": "1.3.0"})
    assert minor.plan([TOP]).nodes == [] and minor.status([MID])[MID].state == "live"
    major = make_graph(tmp_path, c, code={"mid": "2.0.0"})
    assert major.status([MID])[MID].reasons == ("code version of job mid changed 1.0.0 -> 2.0.0",)
    before = len(executions(tmp_path))
    result = major.build([TOP])
    assert result.ok and [e.split()[0] for e in executions(tmp_path)[before:]] == ["mid"]
    assert result.cut_off == [TOP]  # identical output: early cutoff keeps top
    summary = result.summary()  # counted as cut off, not as delegated
    assert (summary["built"], summary["cut_off"], summary["delegated"]) == (1, 1, 0)
    console = Console(record=True, width=300)
    BuildProgress(console, enabled=False).print_summary(result)
    text = console.export_text()
    assert "partitions built 1, skipped 1 (fresh), cut off 1, cached 0, delegated 0" in text


def test_reverting_code_republishes_the_earlier_manifest_without_running_the_job(
        tmp_path, catalog_url):
    c = Catalog.open(catalog_url)
    first = make_graph(tmp_path, c).build([MID])
    old = next(m for m in first.manifests if m.ref == MID)
    assert make_graph(tmp_path, c, code={"mid": "2.0.0"}).build([MID]).ok
    reverted = make_graph(tmp_path, c)
    assert reverted.status([MID])[MID].state == "stale"
    before = len(executions(tmp_path))
    result = reverted.build([MID])
    assert result.ok and executions(tmp_path)[before:] == []  # the job did not run
    assert result.cached == [MID] and result.summary()["cached"] == 1
    assert result.summary()["built"] == 0 and result.jobs_run == 0
    st = reverted.status([MID])[MID]
    assert st.state == "live" and st.manifest_id == old.manifest_id
    assert [e.detail.get("cached") for e in c.events(ref=MID) if e.kind == "available"][-1]


def test_the_action_cache_is_not_used_when_the_earlier_data_is_gone(tmp_path, catalog_url):
    c = Catalog.open(catalog_url)
    first = make_graph(tmp_path, c).build([MID])
    old = next(m for m in first.manifests if m.ref == MID)
    (tmp_path / "landing").mkdir()
    (tmp_path / "landing" / f"{D}.json").write_text("[5]")  # v2 reads other data
    g2 = make_graph(tmp_path, c, code={"mid": "2.0.0"})
    assert g2.build([f"src/d={D}"], force=True).ok and g2.build([MID]).ok
    (tmp_path / "landing" / f"{D}.json").write_text("[1, 2, 3]")
    g1 = make_graph(tmp_path, c)
    assert g1.build([f"src/d={D}"], force=True).ok
    (tmp_path / "data" / old.path).unlink()  # the cached version's file is gone
    before = len(executions(tmp_path))
    result = g1.build([MID])
    assert result.ok and result.cached == [] and executions(tmp_path)[before:] == [f"mid {MID}"]
