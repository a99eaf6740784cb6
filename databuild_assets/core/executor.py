"""Run one JobConfig: resolve inputs, call the job, commit each output as it is written."""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .catalog import Catalog, Event
from .config import JobConfig
from .errors import DatabuildError, DefinitionError, JobOutputError
from .inputs import ABSENT_KEY, Inputs
from .job import Job, JobContext
from .manifest import PartitionManifest
from .procs import ChildDied, TimedOut, run_isolated
from .redact import redact_obj, redact_text
from .registry import Registry
from .storage import DataStore, warm_up

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT = 3600.0  # seconds; DATABUILD_JOB_TIMEOUT, build --timeout, Job.timeout


def job_timeout(job: Job, default: float | None = None) -> float:
    """The job's own ``timeout`` if set, else ``default`` (the graph's, which the entry
    points take from DATABUILD_JOB_TIMEOUT / build --timeout), else ``DEFAULT_TIMEOUT``."""
    own = getattr(job, "timeout", None)
    if own:
        return float(own)
    return float(default or DEFAULT_TIMEOUT)


class _ChildLog:
    """ctx.log inside the job process: records go to the build's logger (redacted there)."""

    def __init__(self, conn):
        self._conn = conn

    def log(self, level, msg, *args, **_kw):
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError):
            text = " ".join(map(str, (msg, *args)))
        self._conn.send(("send", ("log", level, text)))

    def debug(self, msg, *a, **k):
        self.log(logging.DEBUG, msg, *a)

    def info(self, msg, *a, **k):
        self.log(logging.INFO, msg, *a)

    def warning(self, msg, *a, **k):
        self.log(logging.WARNING, msg, *a)

    warn = warning

    def error(self, msg, *a, **k):
        self.log(logging.ERROR, msg, *a)

    def exception(self, msg, *a, **k):
        self.log(logging.ERROR, f"{msg}\n{traceback.format_exc()}", *a)

    critical = error


class _Inline:
    """The child's end of the pipe for a job run in this process (``isolation = "inline"``)."""

    def __init__(self, serve):
        self._serve, self._answer = serve, None

    def send(self, msg):
        kind, payload = msg
        answer = self._serve(payload)
        if kind == "call":
            self._answer = answer

    def recv(self):
        return self._answer


def _child(job: Job, config: JobConfig, inputs: dict, store: DataStore, conn) -> None:
    """The job process: run the job; data is written here, manifests committed by the build."""

    def call(*msg):
        conn.send(("call", msg))
        status, value = conn.recv()
        if status != "ok":
            raise JobOutputError(value)
        return value

    reader, input_path = inputs.read, inputs.path  # checked against the manifests

    def writer(ref, df, metadata):
        return call("commit", ref, store.write(ref, df), metadata)

    def adopter(ref, path, metadata):
        return call("commit", ref, store.adopt(ref, Path(path)), metadata)

    def failer(ref, reason):
        conn.send(("send", ("fail", ref, str(reason))))

    ctx = JobContext(job, config, reader, writer, failer, _ChildLog(conn),
                     path_of=input_path, adopter=adopter)
    try:
        job.run(config, ctx)
    except Exception as e:  # noqa: BLE001 - user code may raise anything: recorded per unwritten output
        msg = str(e) if isinstance(e, DatabuildError) else _describe(job, e)
        conn.send(("send", ("raised", msg)))


@dataclass
class Outcome:
    config: JobConfig
    manifests: list[PartitionManifest] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


class Executor:
    def __init__(self, registry: Registry, catalog: Catalog, store: DataStore, build_id: str,
                 run_id: str | None = None, logger=None, cancel=None,
                 default_timeout: float | None = None):
        self.registry = registry
        self.default_timeout = default_timeout  # for jobs without their own timeout
        self.catalog = catalog
        self.store = store
        self.build_id = build_id
        self.run_id = run_id or build_id
        self.logger = logger
        self.cancel = cancel  # a threading.Event: set when the build is interrupted

    def _inputs(self, config: JobConfig) -> Inputs:
        return Inputs(self.catalog, self.store, config)

    def run(self, job: Job, config: JobConfig) -> Outcome:
        """Run one config in a child process group with a deadline (procs.run_isolated);
        this process commits each output the child writes, and records the rest failed."""
        outcome = Outcome(config)
        start = time.time()
        datasets = {r: self.registry.dataset(r) for r in config.outputs}
        secrets = config.secrets
        try:
            inputs = self._inputs(config)
        except DatabuildError as e:
            self._fail_all(job, config, outcome, redact_text(str(e), secrets))
            return outcome
        records = inputs.records()
        observed = {r: v for r in config.outputs if (v := job.observe(r)) is not None}
        config_json = config.to_json()  # the stored form: secrets masked
        logger = self.logger or log

        def commit(ref, written, metadata):
            pattern = self.registry.patterns[datasets[ref]]
            manifest = PartitionManifest(
                ref=ref, job=job.label, config=config_json, config_hash=config.hash,
                code_version=str(job.code_version), dataset_version=pattern.version,
                data_version=written.data_version, inputs=_records_for(job, config, ref, records),
                start_time=start,
                end_time=time.time(), run_id=self.run_id, build_id=self.build_id,
                row_count=written.row_count, path=written.path, size=written.size,
                metadata=redact_obj({**metadata, **({"databuild/source_version": observed[ref]}
                                                    if ref in observed else {}),
                                     **({ABSENT_KEY: inputs.absent} if inputs.absent else {})},
                                    secrets),
                manifest_id=uuid.uuid4().hex)
            self.catalog.commit(manifest, datasets[ref], [Event(
                self.build_id, "available", ref, job.label,
                {"data_version": written.data_version, "rows": written.row_count,
                 "manifest_id": manifest.manifest_id, "run_id": self.run_id})])
            outcome.manifests.append(manifest)
            return manifest

        def serve(msg):
            kind, *rest = msg
            if kind == "commit":
                ref, written, metadata = rest
                try:
                    return ("ok", commit(ref, written, metadata))
                except DatabuildError as e:
                    return ("error", str(e))
            if kind == "fail":
                ref, reason = rest
                reason = redact_text(reason, secrets)
                outcome.failed[ref] = reason
                self.catalog.fail({ref: datasets[ref]}, self.build_id, reason,
                                  [Event(self.build_id, "failed", ref, job.label,
                                         {"error": reason})])
            elif kind == "log":
                level, text = rest
                logger.log(level, redact_text(text, secrets))
            elif kind == "raised":
                raised.append(redact_text(rest[0], secrets))
            return None

        raised: list[str] = []
        timeout = job_timeout(job, self.default_timeout)
        try:
            if getattr(job, "isolation", "process") == "inline":  # opt-out: no time limit
                _child(job, config, inputs, self.store, _Inline(serve))
            else:
                warm_up()  # once per process: what every forked job would import again
                run_isolated(lambda conn: _child(job, config, inputs, self.store, conn), serve,
                             timeout, self.cancel)
        except TimedOut:
            raised.append(f"job {job.label!r} timed out after {timeout:g} s; its process "
                          "group was killed (raise the job's timeout, or DATABUILD_JOB_TIMEOUT "
                          "/ build --timeout)")
        except ChildDied as e:
            raised.append(f"job {job.label!r}: {redact_text(str(e), secrets)}")
        done = {m.ref for m in outcome.manifests} | set(outcome.failed)
        rest = sorted(config.outputs - done)
        if rest:
            msg = raised[0] if raised else str(JobOutputError(
                f"job {job.label!r} did not write declared output(s) {', '.join(rest)}; "
                "every output in a config must be written or failed with ctx.fail()"))
            self._fail_refs(job, rest, outcome, msg)
        if outcome.failed:  # a failure naming a damaged input: mark it, so it is rebuilt
            inputs.mark_damaged(self.catalog, outcome.failed.values())
        return outcome

    def _fail_all(self, job, config, outcome, msg):
        self._fail_refs(job, sorted(config.outputs), outcome, msg)

    def _fail_refs(self, job, refs, outcome, msg):
        for r in refs:
            outcome.failed[r] = msg
        self.catalog.fail({r: self.registry.dataset(r) for r in refs}, self.build_id, msg,
                          [Event(self.build_id, "failed", r, job.label, {"error": msg})
                           for r in refs])


def _records_for(job: Job, config: JobConfig, ref: str, records: tuple) -> tuple:
    wanted = job.inputs_of(config, ref)
    return records if wanted is None else tuple(r for r in records if r.ref in wanted)


def _describe(job: Job, e: BaseException) -> str:
    frames = traceback.extract_tb(e.__traceback__)
    where = f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"job {job.label!r} raised {type(e).__name__}: {e}{where}"


def execute_job(job: Job, refs: list[str], *, catalog: Catalog | str | None = None,
                data_root=None, build_id: str | None = None,
                timeout: float | None = None) -> list[PartitionManifest]:
    """Job.execute(): configure + run each config; raises if any output failed. The caller
    passes the catalog (or its URL) and the data root; ``timeout``: the default for a job
    without its own."""
    if not catalog or data_root is None:
        raise DefinitionError(f"execute job {job.label!r}: pass catalog= and data_root= (or "
                              "build through a Graph bound to them)")
    catalog = catalog if isinstance(catalog, Catalog) else Catalog.open(catalog)
    store = DataStore(data_root)
    registry = Registry([job])
    build_id = build_id or uuid.uuid4().hex[:12]
    for r in refs:
        registry.parse(r)
    catalog.start_build(build_id, refs, origin="api")
    manifests, failed = [], {}
    try:
        for config in job.configure(sorted(refs)):
            config = config if config.job else config.with_job(job.label)
            ex = Executor(registry, catalog, store, build_id, default_timeout=timeout)
            outcome = ex.run(job, config)
            manifests += outcome.manifests
            failed.update(outcome.failed)
    finally:
        catalog.finish_build(build_id, "failed" if failed else "succeeded")
    if failed:
        ref, msg = sorted(failed.items())[0]
        raise JobOutputError(f"{len(failed)} partition(s) failed; first: {ref}: {msg}")
    return manifests
