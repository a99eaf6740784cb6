"""JobConfig and DataDep: what one execution of a job reads, writes and is told."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .errors import ConfigError
from .redact import redact_args, redact_env, runtime_secrets


class DepType(str, enum.Enum):
    MATERIALIZE = "materialize"  # must be live and fresh; the planner builds it
    QUERY = "query"  # read if live, never built for this job, absence is fine


@dataclass(frozen=True, order=True)
class DataDep:
    dep_type: DepType
    ref: str

    def __post_init__(self):
        if not isinstance(self.ref, str):
            raise ConfigError(f"an input ref must be a string, got {self.ref!r}")
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
    """One unit of execution. Its canonical JSON hash identifies it across processes.

    ``secret_env`` names env entries whose values are passed at run time but never stored:
    the stored form (``to_json()``, manifests, the plan) shows ``***`` for them and masks
    secret-shaped values (URL passwords, PEM blocks, bearer tokens) in other env values and
    args. The config hash is taken over that stored form, so it covers the secret *names*,
    not their values: rotating a password does not make data stale.
    """

    outputs: frozenset[str]
    inputs: frozenset[DataDep] = frozenset()
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    job: str = ""
    secret_env: frozenset[str] = frozenset()

    def __init__(
        self,
        outputs: Iterable[str],
        inputs: Iterable[DataDep] = (),
        args: Iterable[str] = (),
        env: Mapping[str, str] | None = None,
        job: str = "",
        secret_env: Iterable[str] = (),
    ):
        if isinstance(outputs, str):
            outputs = [outputs]
        if isinstance(args, (str, bytes)) or not isinstance(outputs, Iterable) \
                or not isinstance(args, Iterable) or not isinstance(inputs, Iterable):
            raise ConfigError(f"job {job or '?'}: config outputs, inputs and args must be "
                              "lists (args a list of strings, not one string)")
        try:
            outs = frozenset(outputs)
            ins = frozenset(inputs)
        except TypeError:
            raise ConfigError(f"job {job or '?'}: config outputs and inputs must be lists of "
                              "ref strings and DataDep values") from None
        if not all(isinstance(o, str) for o in outs):
            raise ConfigError(f"job {job or '?'}: config outputs must be ref strings, got "
                              f"{sorted(map(repr, outs))[:3]}")
        if not outs:
            raise ConfigError(f"job {job or '?'} returned a config with no outputs")
        for d in ins:
            if not isinstance(d, DataDep):
                raise ConfigError(f"config inputs must be DataDep values, got {d!r}")
        object.__setattr__(self, "outputs", outs)
        object.__setattr__(self, "inputs", ins)
        args = tuple(args)
        if not all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in args):
            raise ConfigError(f"job {job or '?'}: config args must be strings, got {args!r}")
        object.__setattr__(self, "args", tuple(str(a) for a in args))
        env = env or {}
        if not isinstance(env, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
            raise ConfigError(f"job {job or '?'}: config env must map names to strings")
        if isinstance(secret_env, str):
            secret_env = [secret_env]
        secret = frozenset(secret_env)
        unknown = sorted(secret - set(env))
        if unknown:
            raise ConfigError(f"job {job or '?'}: secret_env names {unknown} that env does "
                              "not set; list only names present in env")
        object.__setattr__(self, "env", dict(sorted(env.items())))
        object.__setattr__(self, "job", job)
        object.__setattr__(self, "secret_env", secret)

    def with_job(self, label: str) -> JobConfig:
        return JobConfig(self.outputs, self.inputs, self.args, self.env, job=label,
                         secret_env=self.secret_env)

    @property
    def secrets(self) -> list[str]:
        """Secret values this config carries (masked wherever logs and errors are stored)."""
        if not self.env and not self.args:
            return []
        return runtime_secrets(self.env, self.args, self.secret_env)

    @property
    def materialize_inputs(self) -> list[str]:
        return sorted(d.ref for d in self.inputs if d.dep_type is DepType.MATERIALIZE)

    @property
    def query_inputs(self) -> list[str]:
        return sorted(d.ref for d in self.inputs if d.dep_type is DepType.QUERY)

    def to_json(self, reveal: bool = False) -> dict:
        """The stored form (secrets masked); ``reveal=True`` only for handing the config
        to the job's own process at run time."""
        out = {
            "job": self.job,
            "outputs": sorted(self.outputs),
            "inputs": [d.to_json() for d in sorted(self.inputs, key=lambda d: (d.ref, d.dep_type))],
            "args": list(self.args),
            "env": dict(self.env),
        }
        if self.secret_env:
            out["secret_env"] = sorted(self.secret_env)
        if not reveal:
            secrets = self.secrets
            if self.env:
                out["env"] = redact_env(self.env, self.secret_env, secrets)
            if self.args:
                out["args"] = redact_args(self.args, secrets)
        return out

    @classmethod
    def from_json(cls, data: Mapping, job: str = "") -> JobConfig:
        if not isinstance(data, Mapping) or "outputs" not in data:
            raise ConfigError(f"a config must be an object with 'outputs', got {data!r}")
        inputs = []
        if not isinstance(data.get("inputs", []), list):
            raise ConfigError(f"config 'inputs' must be a list, got {data['inputs']!r}")
        for i in data.get("inputs", []):
            if not isinstance(i, Mapping) or "ref" not in i:
                raise ConfigError(f"config input must be {{dep_type, ref}}, got {i!r}")
            if not isinstance(i["ref"], str):
                raise ConfigError(f"config input ref must be a string, got {i['ref']!r}")
            inputs.append(DataDep(i.get("dep_type", "materialize"), i["ref"]))
        return cls(
            outputs=data["outputs"],
            inputs=inputs,
            args=data.get("args", []),
            env=data.get("env", {}),
            job=data.get("job") or job,
            secret_env=data.get("secret_env", ()),
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
