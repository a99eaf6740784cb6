"""JobConfig and DataDep: what one execution of a job reads, writes and is told."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .errors import ConfigError


class DepType(str, enum.Enum):
    MATERIALIZE = "materialize"  # must be live and fresh; the planner builds it
    QUERY = "query"  # read if live, never built for this job, absence is fine


@dataclass(frozen=True, order=True)
class DataDep:
    dep_type: DepType
    ref: str

    def __post_init__(self):
        if not isinstance(self.dep_type, DepType):
            try:
                object.__setattr__(self, "dep_type", DepType(str(self.dep_type).lower()))
            except ValueError:
                raise ConfigError(
                    f"unknown dep_type {self.dep_type!r} for input {self.ref!r}; "
                    "use 'materialize' or 'query'"
                ) from None

    def to_json(self) -> dict:
        return {"dep_type": self.dep_type.value, "ref": self.ref}


def materialize(*refs: str) -> set[DataDep]:
    return {DataDep(DepType.MATERIALIZE, r) for r in refs}


def query(*refs: str) -> set[DataDep]:
    return {DataDep(DepType.QUERY, r) for r in refs}


@dataclass(frozen=True)
class JobConfig:
    """One unit of execution. Its canonical JSON hash identifies it across processes."""

    outputs: frozenset[str]
    inputs: frozenset[DataDep] = frozenset()
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    job: str = ""

    def __init__(
        self,
        outputs: Iterable[str],
        inputs: Iterable[DataDep] = (),
        args: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        job: str = "",
    ):
        if isinstance(outputs, str):
            outputs = [outputs]
        outs = frozenset(outputs)
        if not outs:
            raise ConfigError(f"job {job or '?'} returned a config with no outputs")
        ins = frozenset(inputs)
        for d in ins:
            if not isinstance(d, DataDep):
                raise ConfigError(f"config inputs must be DataDep values, got {d!r}")
        object.__setattr__(self, "outputs", outs)
        object.__setattr__(self, "inputs", ins)
        object.__setattr__(self, "args", tuple(str(a) for a in args))
        object.__setattr__(self, "env", dict(sorted((env or {}).items())))
        object.__setattr__(self, "job", job)

    def with_job(self, label: str) -> JobConfig:
        return JobConfig(self.outputs, self.inputs, self.args, self.env, job=label)

    @property
    def materialize_inputs(self) -> list[str]:
        return sorted(d.ref for d in self.inputs if d.dep_type is DepType.MATERIALIZE)

    @property
    def query_inputs(self) -> list[str]:
        return sorted(d.ref for d in self.inputs if d.dep_type is DepType.QUERY)

    def to_json(self) -> dict:
        return {
            "job": self.job,
            "outputs": sorted(self.outputs),
            "inputs": [d.to_json() for d in sorted(self.inputs, key=lambda d: (d.ref, d.dep_type))],
            "args": list(self.args),
            "env": dict(self.env),
        }

    @classmethod
    def from_json(cls, data: Mapping, job: str = "") -> JobConfig:
        if not isinstance(data, Mapping) or "outputs" not in data:
            raise ConfigError(f"a config must be an object with 'outputs', got {data!r}")
        inputs = []
        for i in data.get("inputs", []):
            if not isinstance(i, Mapping) or "ref" not in i:
                raise ConfigError(f"config input must be {{dep_type, ref}}, got {i!r}")
            inputs.append(DataDep(i.get("dep_type", "materialize"), i["ref"]))
        return cls(
            outputs=data["outputs"],
            inputs=inputs,
            args=data.get("args", []),
            env=data.get("env", {}),
            job=data.get("job") or job,
        )

    def canonical_json(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]

    def __hash__(self) -> int:
        return hash(self.canonical_json())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JobConfig) and self.canonical_json() == other.canonical_json()
