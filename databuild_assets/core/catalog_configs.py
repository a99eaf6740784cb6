"""Manifest bodies and the job configs they reference, each distinct config stored once.

A batched config (31 days of an ingest, 10 products of a day) used to be embedded in the
body of every manifest it wrote: most of the catalog's bytes, read back by every status.
Since schema v4 a manifest row names its config by ``config_key`` (a hash of the config's
canonical JSON) in the ``configs`` table and its body leaves the config out; rows written
before keep the config in their body (config_key NULL) and read back the same.
"""

from __future__ import annotations

import hashlib
import json
import re

import sqlalchemy as sa

from . import catalog_schema as s
from .errors import CatalogError
from .manifest import PartitionManifest

try:  # a C JSON parser when installed (dagster-dbt brings it); the stdlib otherwise
    from orjson import loads
except ImportError:  # pragma: no cover
    loads = json.loads

_KNOWN_MAX = 20_000  # config keys / texts remembered per catalog object


def _native_only(obj):
    raise TypeError(f"not JSON-native: {type(obj).__name__}")


def config_text(config: dict) -> str:
    """The canonical JSON of a stored config (what its key hashes)."""
    try:
        return json.dumps(config, sort_keys=True, separators=(",", ":"), default=_native_only)
    except TypeError:  # what PartitionManifest.dumps() would have stored
        return json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)


def config_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def body(m: PartitionManifest) -> str:
    """The manifest as JSON without its config (sorted keys, default separators: the
    layout ``input_records`` slices), without dataclasses.asdict's deep copy."""
    d = {**m.__dict__, "inputs": [dict(i.__dict__) for i in m.inputs]}
    del d["config"]
    try:
        return json.dumps(d, sort_keys=True, default=_native_only)
    except TypeError:
        return json.dumps(d, sort_keys=True, default=str)


def mat_inputs(m: PartitionManifest) -> str:
    """The manifest's MATERIALIZE inputs as compact JSON, the only part of a manifest's
    provenance status reads (no parsing of the whole body)."""
    return json.dumps([[i.ref, i.manifest_id, i.data_version] for i in m.inputs
                       if i.dep_type == "materialize"], separators=(",", ":"))


def parse_mat_inputs(text: str) -> list[list]:
    return loads(text)


def keyed(items: list) -> tuple[list[str], dict[str, tuple[str, str]]]:
    """Each manifest's config key, and {key: (job, text)} of the distinct configs; a
    config dict shared by many manifests (one run's outputs) is serialized once."""
    seen: dict[int, str] = {}
    distinct: dict[str, tuple[str, str]] = {}
    keys = []
    for m, _ds in items:
        key = seen.get(id(m.config))
        if key is None:
            text = config_text(m.config)
            key = seen[id(m.config)] = config_key(text)
            distinct.setdefault(key, (m.job, text))
        keys.append(key)
    return keys, distinct


def store(conn: sa.Connection, dialect: str, distinct: dict[str, tuple[str, str]]) -> None:
    """Insert the configs not stored yet (another build may store the same one at once)."""
    if not distinct:
        return
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    conn.execute(insert(s.configs).on_conflict_do_nothing(),
                 [{"config_key": k, "job": j, "body": t} for k, (j, t) in distinct.items()])


class ConfigTexts:
    """Config texts by key, remembered: a key names one content forever."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.stored: set[str] = set()  # keys this process saw committed

    def unstored(self, distinct: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
        return {k: v for k, v in distinct.items() if k not in self.stored}

    def committed(self, keys) -> None:
        if len(self.stored) > _KNOWN_MAX:
            self.stored.clear()
        self.stored.update(keys)

    def get(self, conn: sa.Connection, keys: set[str]) -> dict[str, str]:
        want = sorted(k for k in keys if k not in self.texts)
        for i in range(0, len(want), 500):
            q = sa.select(s.configs.c.config_key, s.configs.c.body).where(
                s.configs.c.config_key.in_(want[i:i + 500]))
            if len(self.texts) > _KNOWN_MAX:
                self.texts.clear()
            self.texts.update(conn.execute(q).all())
        missing = [k for k in keys if k not in self.texts]
        if missing:
            raise CatalogError(f"the catalog has manifests whose config {missing[0]} is not "
                               "stored; the catalog is damaged (restore it from a backup)")
        return {k: self.texts[k] for k in keys}


def full_manifests(conn: sa.Connection, texts: ConfigTexts, rows) -> list[PartitionManifest]:
    """PartitionManifests from (body, config_key) rows; a NULL key: the body has it."""
    rows = list(rows)
    keys = {k for _b, k in rows if k}
    configs = {k: loads(t) for k, t in texts.get(conn, keys).items()} if keys else {}
    out = []
    for b, k in rows:
        d = json.loads(b)
        if k:
            d["config"] = configs[k]
        out.append(PartitionManifest.from_json(d))
    return out


# In a body (sorted keys, default separators) the top-level "inputs" follows "end_time"
# (a number) and precedes "job"; a config embedded before schema v4 sorts before
# "end_time" and has no numeric value; input records (refs, hex ids) cannot contain
# ', "job": "'.
_INPUTS_AT = re.compile(r'"end_time": -?[0-9][0-9.eE+-]*, "inputs": ')


def input_records(text: str):
    """A manifest body's input records, parsing only that slice of the JSON; the whole
    body when the slice is not found."""
    m = _INPUTS_AT.search(text)
    if m:
        end = text.find(', "job": "', m.end())
        if end > 0:
            try:
                records = loads(text[m.end():end])
            except ValueError:
                records = None
            if isinstance(records, list):
                return records
    return loads(text).get("inputs", ())


def materialize_inputs(records) -> list[tuple]:
    """[(ref, manifest id, data version)] of a body's MATERIALIZE input records."""
    return [(i["ref"], i["manifest_id"], i["data_version"])
            for i in records if i["dep_type"] == "materialize"]
