"""The Job base class and the context a job's run() reads and writes through."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

from .config import JobConfig
from .errors import JobOutputError
from .refs import PartitionPattern

if TYPE_CHECKING:  # pandas: imported where a job writes, not when a graph is loaded
    import pandas as pd

log = logging.getLogger(__name__)


class Job:
    """Subclass, set ``label``, ``outputs`` and ``code_version``, implement configure and run.

    ``configure`` must be pure and cheap: planning calls it a lot. It may group many refs
    into one config (a date range run once).
    """

    label: ClassVar[str] = ""
    outputs: ClassVar[list[PartitionPattern]] = []
    code_version: ClassVar[str] = "0.0.0"  # semver: a major change invalidates
    invalidate_on_code_change: ClassVar[bool] = True
    description: ClassVar[str] = ""
    group: ClassVar[str] = "databuild"
    owners: ClassVar[list[str]] = []
    kinds: ClassVar[list[str]] = ["python"]
    # seconds one run() may take; None: the default (DATABUILD_JOB_TIMEOUT, build --timeout)
    timeout: ClassVar[float | None] = None
    # "process": run() runs in a child process group, killed whole at the deadline (default);
    # "inline": in the build's process, no time limit (only for tiny, trusted pandas jobs)
    isolation: ClassVar[str] = "process"

    def configure(self, refs: list[str]) -> list[JobConfig]:
        raise NotImplementedError(f"job {self.label!r} must implement configure(refs)")

    def run(self, config: JobConfig, ctx: JobContext) -> None:
        raise NotImplementedError(f"job {self.label!r} must implement run(config, ctx)")

    def inputs_of(self, config: JobConfig, output: str) -> set[str] | None:
        """The inputs one output of a batched config depends on, when not all of them: keeps
        provenance (and so staleness) per partition, e.g. day D of a date-range run reads
        only day D's input. None: every input of the config (the default)."""
        return None

    def observe(self, ref: str) -> str | None:
        """For jobs reading outside sources (landing files, APIs): a cheap version of what
        ``ref`` would be built from now. A change makes the partition and its dependents
        stale. None: not observable (the default)."""
        return None

    def __repr__(self) -> str:
        return f"<Job {self.label} v{self.code_version}>"


class JobContext:
    """What run() sees. Reads resolve to the exact live version recorded in the manifest."""

    def __init__(self, job: Job, config: JobConfig, reader, writer, failer, logger=None,
                 path_of=None, adopter=None):
        self.job = job
        self._path_of = path_of
        self._adopter = adopter
        self.config = config
        self._reader = reader
        self._writer = writer
        self._failer = failer
        self.log = logger or log
        self.written: set[str] = set()
        self.failed: dict[str, str] = {}

    @property
    def args(self) -> tuple[str, ...]:
        return self.config.args

    @property
    def env(self) -> dict[str, str]:
        return dict(self.config.env)

    @property
    def outputs(self) -> list[str]:
        return sorted(self.config.outputs)

    def read(self, ref: str) -> pd.DataFrame | None:
        """The input's data; None for a QUERY input that is not live."""
        if ref not in {d.ref for d in self.config.inputs}:
            raise JobOutputError(
                f"job {self.job.label!r} read {ref!r}, which its config does not declare as "
                "an input; add it to the inputs configure() returns"
            )
        return self._reader(ref)

    def write(self, ref: str, df: pd.DataFrame, metadata: dict | None = None):
        self._check_output(ref)
        import pandas as pd

        if not isinstance(df, pd.DataFrame):
            raise JobOutputError(f"job {self.job.label!r} must write a pandas DataFrame to {ref!r}")
        manifest = self._writer(ref, df, metadata or {})
        self.written.add(ref)
        return manifest

    def _check_output(self, ref: str) -> None:
        if ref not in self.config.outputs:
            raise JobOutputError(
                f"job {self.job.label!r} wrote {ref!r}, which is not an output of its config "
                f"({', '.join(sorted(self.config.outputs))}); nothing was written"
            )
        if ref in self.written:
            raise JobOutputError(f"job {self.job.label!r} wrote {ref!r} twice")

    def input_path(self, ref: str):
        """Absolute path of a live input's file (None for an absent QUERY input)."""
        if ref not in {d.ref for d in self.config.inputs}:
            raise JobOutputError(f"job {self.job.label!r} asked for undeclared input {ref!r}")
        return self._path_of(ref)

    def adopt(self, ref: str, path, metadata: dict | None = None):
        """File a Parquet file produced elsewhere (an external program) as output ``ref``."""
        self._check_output(ref)
        manifest = self._adopter(ref, path, metadata or {})
        self.written.add(ref)
        return manifest

    def fail(self, ref: str, reason: str) -> None:
        """Record one output as failed and carry on with the others."""
        if ref not in self.config.outputs:
            raise JobOutputError(f"job {self.job.label!r} failed unknown output {ref!r}")
        self.failed[ref] = reason
        self._failer(ref, reason)
