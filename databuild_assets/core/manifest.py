"""PartitionManifest: the provenance record of one partition written by one execution."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

_SECRET_KEY = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|CREDENTIAL)", re.I)


def redact_env(env: Mapping[str, str]) -> dict[str, str]:
    """Config env is stored in manifests; values whose names look secret never are."""
    return {k: ("***" if _SECRET_KEY.search(k) else v) for k, v in env.items()}


@dataclass(frozen=True)
class InputRecord:
    """Which version of an input an execution actually read."""

    ref: str
    dep_type: str
    manifest_id: str | None  # None: a QUERY input that was absent
    data_version: str | None


@dataclass(frozen=True)
class PartitionManifest:
    ref: str
    job: str
    config: dict
    config_hash: str
    code_version: str
    dataset_version: str
    data_version: str
    inputs: tuple[InputRecord, ...] = ()
    start_time: float = 0.0
    end_time: float = 0.0
    run_id: str = ""
    build_id: str = ""
    row_count: int | None = None
    path: str = ""
    size: int | None = None  # bytes of the data file: a different size means damaged
    metadata: dict = field(default_factory=dict)
    manifest_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_json(self) -> dict:
        d = asdict(self)
        d["inputs"] = [asdict(i) for i in self.inputs]
        return d

    @classmethod
    def from_json(cls, d: Mapping) -> PartitionManifest:
        d = dict(d)
        d["inputs"] = tuple(InputRecord(**i) for i in d.get("inputs", ()))
        return cls(**d)

    def dumps(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, default=str)
