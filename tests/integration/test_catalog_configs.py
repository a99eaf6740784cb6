"""Configs stored once (schema v4): a catalog from before keeps its manifests readable."""

import uuid

import sqlalchemy as sa

from databuild_assets.core import Catalog, PartitionManifest
from databuild_assets.core import catalog_schema as schema
from databuild_assets.core.manifest import InputRecord


def _manifest(ref, config, inputs=(), dv="dv"):
    return PartitionManifest(ref=ref, job="j", config=config, config_hash="h",
                             code_version="1", dataset_version="1.0.0", data_version=dv,
                             inputs=inputs, manifest_id=uuid.uuid4().hex)


def _as_v3(url: str) -> Catalog:
    """A catalog laid out as databuild wrote it at schema v3: no configs table, no
    config_key / mat_inputs columns, configs embedded in manifest bodies."""
    c = Catalog.open(url)
    with c.tx() as conn:
        schema.configs.drop(conn)
        name = schema.manifests.name
        pg = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
        if pg:
            name = f'"{pg}".{name}'
        for col in ("config_key", "mat_inputs"):
            conn.execute(sa.text(f"ALTER TABLE {name} DROP COLUMN {col}"))
        conn.execute(sa.update(schema.schema_info).values(version=3))
    c.dispose()
    return c


def _store_as_v3(c: Catalog, m: PartitionManifest, dataset: str) -> None:
    """What v3 stored: the whole manifest, config included, in the body."""
    with c.tx() as conn:
        conn.execute(sa.insert(schema.manifests).values(
            manifest_id=m.manifest_id, ref=m.ref, dataset=dataset, job=m.job,
            config_hash=m.config_hash, code_version=m.code_version,
            dataset_version=m.dataset_version, data_version=m.data_version,
            end_time=m.end_time, body=m.dumps(), path=m.path or None, size=m.size))
        conn.execute(sa.insert(schema.partitions).values(
            ref=m.ref, dataset=dataset, state="live", manifest_id=m.manifest_id,
            data_version=m.data_version, updated_at=1.0, attempts=1))


def test_an_old_catalog_migrates_and_its_manifests_read_back_whole(catalog_url):
    old = _as_v3(catalog_url)
    config = {"job": "j", "outputs": ["x/d=2"], "inputs": [{"dep_type": "materialize",
                                                            "ref": "x/d=1"}],
              "args": ["2024-01-01"], "env": {}}
    up = _manifest("x/d=1", {"job": "j", "outputs": ["x/d=1"], "inputs": [], "args": [],
                             "env": {}}, dv="v1")
    down = _manifest("x/d=2", config, inputs=(
        InputRecord("x/d=1", "materialize", up.manifest_id, "v1"),
        InputRecord("q/d=1", "query", None, None)))
    for m in (up, down):
        _store_as_v3(old, m, "x")
    old.dispose()

    c = Catalog.open(catalog_url)
    assert c.schema_version() == schema.LATEST
    got = c.manifests([up.manifest_id, down.manifest_id])
    assert got[down.manifest_id] == down and got[up.manifest_id] == up
    facts = c.manifest_facts([down.manifest_id])[down.manifest_id]
    assert [(i.ref, i.manifest_id, i.data_version) for i in facts.inputs] == [
        ("x/d=1", up.manifest_id, "v1")]  # MATERIALIZE inputs only
    assert [m.manifest_id for m in c.manifest_history(ref="x/d=2")] == [down.manifest_id]
    # new manifests next to the old ones: written the v4 way, read back the same
    new = _manifest("x/d=3", config)
    c.commit(new, "x")
    assert c.manifests([new.manifest_id])[new.manifest_id] == new
    assert c.partitions(["x/d=1", "x/d=2", "x/d=3"])["x/d=2"].manifest_id == down.manifest_id


def test_a_config_shared_by_many_manifests_is_stored_once(catalog_url):
    c = Catalog.open(catalog_url)
    config = {"job": "j", "outputs": [f"x/d={i}" for i in range(31)], "inputs": [],
              "args": ["a", "b"], "env": {"K": "v"}}
    ms = [_manifest(f"x/d={i}", config) for i in range(31)]
    c.commit_many([(m, "x") for m in ms[:20]])
    for m in ms[20:]:
        c.commit(m, "x")
    with c._read() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(schema.configs)).scalar()
        longest = conn.execute(sa.select(sa.func.max(sa.func.length(schema.manifests.c.body)))
                               ).scalar()
    assert stored == 1
    assert longest < len(ms[0].dumps()) - 300  # the bodies leave the config out
    back = c.manifests(m.manifest_id for m in ms)
    assert all(back[m.manifest_id] == m for m in ms)
    assert c.action_candidates(["x/d=3"], "h", "1")["x/d=3"] == [ms[3]]
