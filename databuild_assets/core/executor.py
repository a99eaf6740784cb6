"""Run one JobConfig: resolve inputs, call the job, commit each output as it is written."""

from __future__ import annotations

import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from .catalog import Catalog, Event
from .config import JobConfig
from .errors import DatabuildError, JobOutputError, MissingInputError
from .job import Job, JobContext
from .manifest import InputRecord, PartitionManifest, redact_env
from .registry import Registry
from .storage import DataStore


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
                 run_id: str | None = None, logger=None):
        self.registry = registry
        self.catalog = catalog
        self.store = store
        self.build_id = build_id
        self.run_id = run_id or build_id
        self.logger = logger

    def _inputs(self, config: JobConfig) -> dict[str, tuple[InputRecord, PartitionManifest | None]]:
        rows = self.catalog.partitions(d.ref for d in config.inputs)
        live = {r: row for r, row in rows.items() if row.manifest_id and row.state == "live"}
        missing = [r for r in config.materialize_inputs if r not in live]
        if missing:
            raise MissingInputError(missing)
        manifests = self.catalog.manifests(row.manifest_id for row in live.values())
        out = {}
        for d in config.inputs:
            row = live.get(d.ref)
            m = manifests.get(row.manifest_id) if row else None
            out[d.ref] = (InputRecord(d.ref, d.dep_type.value, m.manifest_id if m else None,
                                      m.data_version if m else None), m)
        return out

    def run(self, job: Job, config: JobConfig) -> Outcome:
        outcome = Outcome(config)
        start = time.time()
        datasets = {r: self.registry.dataset(r) for r in config.outputs}
        try:
            inputs = self._inputs(config)
        except DatabuildError as e:
            self._fail_all(job, config, outcome, str(e))
            return outcome
        records = tuple(sorted((rec for rec, _ in inputs.values()), key=lambda r: r.ref))
        observed = {r: v for r in config.outputs if (v := job.observe(r)) is not None}
        config_json = {**config.to_json(), "env": redact_env(config.env)}

        def reader(ref):
            _rec, m = inputs[ref]
            return self.store.read(m.path) if m else None

        def input_path(ref):
            _rec, m = inputs[ref]
            return self.store.abspath(m.path) if m else None

        def commit(ref, written, metadata):
            pattern = self.registry.patterns[datasets[ref]]
            manifest = PartitionManifest(
                ref=ref, job=job.label, config=config_json, config_hash=config.hash,
                code_version=str(job.code_version), dataset_version=pattern.version,
                data_version=written.data_version, inputs=_records_for(job, config, ref, records),
                start_time=start,
                end_time=time.time(), run_id=self.run_id, build_id=self.build_id,
                row_count=written.row_count, path=written.path,
                metadata={**metadata, **({"databuild/source_version": observed[ref]}
                                         if ref in observed else {})},
                manifest_id=uuid.uuid4().hex)
            self.catalog.commit(manifest, datasets[ref], [Event(
                self.build_id, "available", ref, job.label,
                {"data_version": written.data_version, "rows": written.row_count,
                 "manifest_id": manifest.manifest_id, "run_id": self.run_id})])
            outcome.manifests.append(manifest)
            return manifest

        def writer(ref, df, metadata):
            return commit(ref, self.store.write(ref, df), metadata)

        def adopter(ref, path: Path, metadata):
            return commit(ref, self.store.adopt(ref, Path(path)), metadata)

        def failer(ref, reason):
            outcome.failed[ref] = reason
            self.catalog.fail({ref: datasets[ref]}, self.build_id, reason,
                              [Event(self.build_id, "failed", ref, job.label, {"error": reason})])

        ctx = JobContext(job, config, reader, writer, failer, self.logger,
                         path_of=input_path, adopter=adopter)
        try:
            job.run(config, ctx)
        except Exception as e:  # the job's own failure: record it per unwritten output
            msg = str(e) if isinstance(e, DatabuildError) else _describe(job, e)
            self._fail_rest(job, config, ctx, outcome, msg)
            return outcome
        unwritten = sorted(config.outputs - ctx.written - set(ctx.failed))
        if unwritten:
            msg = str(JobOutputError(
                f"job {job.label!r} did not write declared output(s) {', '.join(unwritten)}; "
                "every output in a config must be written or failed with ctx.fail()"))
            self._fail_rest(job, config, ctx, outcome, msg)
        return outcome

    def _fail_rest(self, job, config, ctx, outcome, msg):
        rest = sorted(config.outputs - ctx.written - set(outcome.failed))
        if rest:
            self._fail_refs(job, rest, outcome, msg)

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


def execute_job(job: Job, refs: list[str], *, catalog=None, data_root=None,
                build_id: str | None = None) -> list[PartitionManifest]:
    """Job.execute(): configure + run each config; raises if any output failed."""
    from .. import settings

    conf = settings.load()
    catalog = catalog or Catalog.open(conf.catalog_url)
    store = DataStore(data_root or conf.data_root)
    registry = Registry([job])
    build_id = build_id or uuid.uuid4().hex[:12]
    for r in refs:
        registry.parse(r)
    catalog.start_build(build_id, refs, origin="api")
    manifests, failed = [], {}
    try:
        for config in job.configure(sorted(refs)):
            config = config if config.job else config.with_job(job.label)
            ex = Executor(registry, catalog, store, build_id)
            outcome = ex.run(job, config)
            manifests += outcome.manifests
            failed.update(outcome.failed)
    finally:
        catalog.finish_build(build_id, "failed" if failed else "succeeded")
    if failed:
        ref, msg = sorted(failed.items())[0]
        raise JobOutputError(f"{len(failed)} partition(s) failed; first: {ref}: {msg}")
    return manifests
