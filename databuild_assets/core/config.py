"""JobConfig and DataDep: what one execution of a job reads, writes and is told."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii
from operator import itemgetter

from .errors import ConfigError
from .redact import redact_args, redact_env, runtime_secrets


class DepType(str, enum.Enum):
    MATERIALIZE = "materialize"  # must be live and fresh; the planner builds it
    QUERY = "query"  # read if live, never built for this job, absence is fine


class DataDep(tuple):
    """``(dep_type, ref)``: a tuple, so a plan's millions of inputs cost a small tuple each
    (ordering, equality and hash are those of the pair, as the frozen dataclass had)."""

    __slots__ = ()
    dep_type: DepType = property(itemgetter(0))  # type: ignore[assignment]
    ref: str = property(itemgetter(1))  # type: ignore[assignment]

    def __new__(cls, dep_type: DepType | str, ref: str) -> DataDep:
        if not isinstance(ref, str):
            raise ConfigError(f"an input ref must be a string, got {ref!r}")
        if not isinstance(dep_type, DepType):
            try:
                dep_type = DepType(str(dep_type).lower())
            except ValueError:
                raise ConfigError(
                    f"unknown dep_type {dep_type!r} for input {ref!r}; "
                    "use 'materialize' or 'query'"
                ) from None
        return tuple.__new__(cls, (dep_type, ref))

    def __getnewargs__(self):
        return tuple(self)

    def __repr__(self) -> str:
        return f"DataDep(dep_type={self[0]!r}, ref={self[1]!r})"

    def to_json(self) -> dict:
        return {"dep_type": self[0].value, "ref": self[1]}


def _deps(dep_type: DepType, refs: tuple) -> set[DataDep]:
    """One DataDep per recent (type, ref), shared by the configs that read it (a trailing
    window's day is read by 7 configs): immutable, so sharing is invisible but to memory."""
    if not set(map(type, refs)) <= _STR:  # the checks of DataDep(), for the odd ref
        return {DataDep(dep_type, r) for r in refs}
    cache = _RECENT[dep_type]
    if len(cache) > _RECENT_MAX:
        cache.clear()
    out = set()
    for r in refs:
        d = cache.get(r)
        if d is None:
            d = cache[r] = _new_tuple(DataDep, (dep_type, r))
        out.add(d)
    return out


def materialize(*refs: str) -> set[DataDep]:
    return _deps(DepType.MATERIALIZE, refs)


def query(*refs: str) -> set[DataDep]:
    return _deps(DepType.QUERY, refs)


@dataclass(frozen=True, slots=True, eq=False)
class JobConfig:
    """One unit of execution. Its canonical JSON hash identifies it across processes.

    ``secret_env`` names env entries whose values are passed at run time but never stored:
    the stored form (``to_json()``, manifests, the plan) shows ``***`` for them and masks
    secret-shaped values (URL passwords, PEM blocks, bearer tokens) in other env values and
    args. The config hash is taken over that stored form, so it covers the secret *names*,
    not their values: rotating a password does not make data stale.

    Slots, one shared empty env and the hash computed once on first use: a million-ref
    plan holds half a million configs.
    """

    outputs: frozenset[str]
    inputs: frozenset[DataDep] = frozenset()
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    job: str = ""
    secret_env: frozenset[str] = frozenset()
    _hash: str | None = field(default=None, repr=False, compare=False)

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
        if not set(map(type, outs)) <= _STR and not all(isinstance(o, str) for o in outs):
            raise ConfigError(f"job {job or '?'}: config outputs must be ref strings, got "
                              f"{sorted(map(repr, outs))[:3]}")
        if not outs:
            raise ConfigError(f"job {job or '?'} returned a config with no outputs")
        if not set(map(type, ins)) <= _DEP:
            for d in ins:
                if not isinstance(d, DataDep):
                    raise ConfigError(f"config inputs must be DataDep values, got {d!r}")
        _set = object.__setattr__
        _set(self, "outputs", outs)
        _set(self, "inputs", ins)
        _set(self, "job", job)
        _set(self, "_hash", None)
        if not args and not env and not secret_env:  # the usual config: nothing else to check
            _set(self, "args", ())
            _set(self, "env", _NO_ENV)
            _set(self, "secret_env", _NONE)
            return
        args = tuple(args)
        if not all(isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in args):
            raise ConfigError(f"job {job or '?'}: config args must be strings, got {args!r}")
        _set(self, "args", tuple(str(a) for a in args))
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
        _set(self, "env", dict(sorted(env.items())) if env else _NO_ENV)
        _set(self, "secret_env", secret)

    def _relabel(self, label: str) -> JobConfig:
        """``with_job(label)`` without validating the fields again (they were, when this
        config was made): the planner labels every config a job returns without one."""
        out = object.__new__(JobConfig)
        for name in ("outputs", "inputs", "args", "env", "secret_env"):
            object.__setattr__(out, name, getattr(self, name))
        object.__setattr__(out, "job", label)
        object.__setattr__(out, "_hash", None)
        return out

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
        """``json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))``, byte for
        byte (stored hashes depend on it), assembled without the intermediate dicts."""
        args, env = self.args, self.env
        if args or env:
            stored = self.to_json()
            args, env = stored["args"], stored["env"]
        outs = self.outputs
        parts = ['{"args":', _enc(list(args)) if args else "[]",
                 ',"env":', _enc(env) if env else "{}", ',"inputs":[',
                 ",".join([_DEP_JSON[t] + _q(r) + "}" for r, t in
                           sorted(map(_REF_TYPE, self.inputs))]),
                 '],"job":', _q(self.job), ',"outputs":',
                 f"[{_q(next(iter(outs)))}]" if len(outs) == 1 else _enc(sorted(outs))]
        if self.secret_env:
            parts += (',"secret_env":', _enc(sorted(self.secret_env)))
        parts.append("}")
        return "".join(parts)

    @property
    def hash(self) -> str:
        h = self._hash
        if h is None:
            h = hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]
            object.__setattr__(self, "_hash", h)
        return h

    def __hash__(self) -> int:
        return hash(self.hash)

    def __eq__(self, other: object) -> bool:
        return self is other or (isinstance(other, JobConfig) and self.hash == other.hash
                                 and self.canonical_json() == other.canonical_json())


class _EmptyEnv(dict):
    """The env of every config without one: shared, so it must not change."""

    __slots__ = ()

    def _frozen(self, *a, **k):
        raise TypeError("a JobConfig's env cannot be changed")

    __setitem__ = __delitem__ = __ior__ = update = setdefault = pop = popitem = clear = _frozen  # type: ignore


_NO_ENV: Mapping[str, str] = _EmptyEnv()
_NONE: frozenset = frozenset()
_STR = {str}
_DEP = {DataDep}
_RECENT: dict[DepType, dict[str, DataDep]] = {t: {} for t in DepType}
_RECENT_MAX = 1 << 16  # DataDeps remembered per type
_new_tuple = tuple.__new__
_q = encode_basestring_ascii
_REF_TYPE = itemgetter(1, 0)
_DEP_JSON = {t: f'{{"dep_type":"{t.value}","ref":' for t in DepType}
_enc = json.JSONEncoder(sort_keys=True, separators=(",", ":")).encode
