"""A failed rebuild keeps the last good version; a tainted QUERY input is not read."""

import pytest

from databuild_assets.core import Catalog
from databuild_assets.core.inputs import ABSENT_KEY
from tests.faults.graph import make_graph

D = "2024-02-01"
SRC, FX, MID, TOP = (f"{ds}/d={D}" for ds in ("src", "fx", "mid", "top"))


def test_a_failed_rebuild_keeps_the_last_good_version_live_and_readable(tmp_path, catalog_url):
    c = Catalog.open(catalog_url)
    assert make_graph(tmp_path, c).build([TOP]).ok
    good = c.partitions([SRC])[SRC].manifest_id
    broken = make_graph(tmp_path, c, fail=[SRC])
    result = broken.build([SRC], force=True)
    assert not result.ok and "injected failure" in result.failed[SRC]
    st = broken.status([SRC, MID, TOP])
    assert st[SRC].state == "live" and st[SRC].manifest_id == good
    assert st[SRC].label.startswith("live (last rebuild failed: ") and "injected" in st[SRC].label
    assert st[MID].state == "live" and st[TOP].state == "live"  # not made stale by it
    assert broken.plan([TOP]).nodes == []
    again = broken.build([MID], force=True)  # a reader reads the last good version
    assert again.ok and next(i for i in again.manifests[0].inputs if i.ref == SRC).manifest_id == good
    assert any(e.kind == "failed" for e in c.events(ref=SRC))  # the attempt is recorded


def test_a_tainted_query_input_is_treated_as_absent_and_recorded_so(tmp_path, catalog_url):
    c = Catalog.open(catalog_url)
    g = make_graph(tmp_path, c)
    assert g.build([FX, MID]).ok
    assert float(g.store.read(c.manifest_history(ref=MID)[0].path).total[0]) == 12.0  # 6 * 2.0
    g.taint(FX, "rates of the wrong day")
    result = g.build([MID], force=True)
    assert result.ok
    m = result.manifests[0]
    fx = next(i for i in m.inputs if i.ref == FX)
    assert fx.dep_type == "query" and fx.manifest_id is None and fx.data_version is None
    assert m.metadata[ABSENT_KEY] == {FX: "tainted: rates of the wrong day"}
    assert float(g.store.read(m.path).total[0]) == 6.0  # read as absent: rate 1.0


@pytest.mark.parametrize("damage", ["deleted", "truncated"])
def test_a_damaged_live_partition_shows_damaged_and_the_next_build_heals_it(
        tmp_path, catalog_url, damage):
    c = Catalog.open(catalog_url)
    g = make_graph(tmp_path, c)
    assert g.build([TOP]).ok
    path = g.store.abspath(c.manifest_history(ref=MID)[0].path)
    if damage == "deleted":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:40])
    st = g.status([MID, TOP])
    assert st[MID].state == "damaged" and "damaged: its data file" in st[MID].reasons[0]
    assert st[TOP].state == "live"  # its own data is intact
    result = g.build([MID])
    assert result.ok and [m.ref for m in result.manifests] == [MID]
    assert g.status([MID])[MID].state == "live"


def test_a_reader_of_a_garbled_input_fails_naming_it_and_the_input_is_rebuilt(
        tmp_path, catalog_url):
    c = Catalog.open(catalog_url)
    g = make_graph(tmp_path, c)
    assert g.build([TOP]).ok
    path = g.store.abspath(c.manifest_history(ref=MID)[0].path)
    path.write_bytes(b"\0" * path.stat().st_size)  # same size: only reading can tell
    assert g.status([MID])[MID].state == "live"
    result = g.build([TOP], force=True)
    assert not result.ok
    assert result.failed[TOP].startswith(f"input {MID} is damaged: its data file")
    assert "pyarrow" not in result.failed[TOP].lower() or "cannot be read" in result.failed[TOP]
    assert g.status([MID])[MID].state == "damaged"
    healed = g.build([TOP], force=True)
    assert healed.ok and {m.ref for m in healed.manifests} == {MID, TOP}
