"""The catalog on SQLite and on the local PostgreSQL."""

import os
import uuid

import pytest
import sqlalchemy as sa

from databuild_assets.core import Catalog, CatalogError, PartitionManifest
from databuild_assets.core import catalog_schema as schema
from databuild_assets.core.catalog import Event
from databuild_assets.core.catalog_schema import LATEST


def manifest(ref, dv="dv1"):
    return PartitionManifest(ref=ref, job="j", config={}, config_hash="h", code_version="1",
                             dataset_version="1.0.0", data_version=dv, manifest_id=uuid.uuid4().hex)


def test_a_new_catalog_is_migrated_to_the_latest_schema_and_reopening_is_harmless(catalog_url):
    c = Catalog.open(catalog_url)
    assert c.schema_version() == LATEST
    c.dispose()
    assert Catalog.open(catalog_url).schema_version() == LATEST


def test_a_catalog_from_a_newer_databuild_is_refused(catalog_url):
    c = Catalog.open(catalog_url)
    with c.tx() as conn:
        conn.execute(sa.update(schema.schema_info).values(version=999))
    with pytest.raises(CatalogError, match="newer than this databuild"):
        Catalog.open(catalog_url)


def test_only_one_live_build_can_claim_a_partition(catalog_url):
    c = Catalog.open(catalog_url)
    c.start_build("b1", ["x/d=1"])
    c.start_build("b2", ["x/d=1"])
    assert c.claim({"x/d=1": "x", "x/d=2": "x"}, "b1") is None
    assert c.claim({"x/d=2": "x", "x/d=3": "x"}, "b2") == "b1"
    assert c.partitions(["x/d=3"])["x/d=3"].state == "missing"  # all or nothing
    c.finish_build("b1", "failed")  # releases what it held
    assert c.claim({"x/d=2": "x"}, "b2") is None


def test_claims_of_a_dead_process_are_not_honoured(catalog_url):
    c = Catalog.open(catalog_url)
    c.start_build("dead", [])
    assert c.claim({"x/d=1": "x"}, "dead") is None
    with c.tx() as conn:  # pretend the owner was a process that no longer exists
        conn.execute(sa.update(schema.builds).where(schema.builds.c.build_id == "dead")
                     .values(pid=2147480000))
    c.start_build("b2", [])
    assert c.claim({"x/d=1": "x"}, "b2") is None


def test_commit_makes_the_partition_live_with_its_manifest_and_event_in_one_step(catalog_url):
    c = Catalog.open(catalog_url)
    c.start_build("b", [])
    c.claim({"x/d=1": "x"}, "b")
    m = manifest("x/d=1")
    c.commit(m, "x", [Event("b", "available", "x/d=1")])
    row = c.partitions(["x/d=1"])["x/d=1"]
    assert (row.state, row.manifest_id, row.owner) == ("live", m.manifest_id, None)
    assert c.manifests([m.manifest_id])[m.manifest_id] == m
    assert [e.kind for e in c.events(ref="x/d=1")] == ["available"]
    assert c.manifest_history(dataset="x")[0].manifest_id == m.manifest_id


def test_a_failed_commit_leaves_nothing_behind(catalog_url):
    c = Catalog.open(catalog_url)
    m = manifest("x/d=1")
    c.commit(m, "x")
    with pytest.raises(CatalogError, match="already stored"):
        c.commit(m, "x")  # duplicate manifest id: the whole transaction rolls back
    assert len(c.manifest_history(ref="x/d=1")) == 1


def test_taints_attach_to_a_manifest_version(catalog_url):
    c = Catalog.open(catalog_url)
    m = manifest("x/d=1")
    c.commit(m, "x")
    c.taint("x/d=1", m.manifest_id, "bad file")
    assert c.taints([m.manifest_id]) == {m.manifest_id: "bad file"}
    assert c.events(ref="x/d=1")[-1].kind == "tainted"


def test_an_unreachable_postgres_catalog_names_the_server_and_what_to_do():
    with pytest.raises(CatalogError, match="cannot reach the PostgreSQL catalog.*DATABUILD_CATALOG_URL"):
        Catalog.open("postgresql://postgres@127.0.0.1:1/nope")


def test_a_garbage_catalog_url_is_a_clear_error():
    with pytest.raises(CatalogError, match="not valid|unsupported"):
        Catalog.open("mongodb://x")


@pytest.mark.skipif(os.environ.get("CI", "").lower() != "true", reason="CI guard only")
def test_ci_has_a_reachable_postgres(pg_admin):
    with pg_admin.connect() as c:
        assert c.execute(sa.text("select 1")).scalar() == 1


def test_a_failed_attempt_on_a_live_partition_keeps_its_manifest_published(catalog_url):
    c = Catalog.open(catalog_url)
    m = manifest("x/d=1")
    c.commit(m, "x")
    c.start_build("b", [])
    assert c.claim({"x/d=1": "x", "x/d=2": "x"}, "b") is None
    c.fail({"x/d=1": "x", "x/d=2": "x"}, "b", "boom")
    rows = c.partitions(["x/d=1", "x/d=2"])
    assert (rows["x/d=1"].state, rows["x/d=1"].manifest_id, rows["x/d=1"].error) == (
        "live", m.manifest_id, "boom")
    assert rows["x/d=2"].state == "failed"  # never published: nothing to keep


def test_manifests_record_their_data_file_path_and_size(catalog_url):
    c = Catalog.open(catalog_url)
    m = PartitionManifest(ref="x/d=1", job="j", config={}, config_hash="h", code_version="1",
                          dataset_version="1.0.0", data_version="dv", path="x/d=1/p.parquet",
                          size=1234)
    c.commit(m, "x")
    facts = c.manifest_facts([m.manifest_id])[m.manifest_id]
    assert (facts.path, facts.size) == ("x/d=1/p.parquet", 1234)
