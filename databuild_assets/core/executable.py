"""External executable jobs: any program that speaks the config/exec JSON protocol.

``prog config REF...`` prints ``{"configs": [{"outputs": [...], "inputs": [...], ...}]}``.
``prog exec ARGS...`` (the config's ``args`` as argv) reads a request on stdin: the JobConfig
(args too) plus ``input_paths`` (ref -> Parquet path, null for an absent QUERY input) and
``output_paths`` (ref -> where to write Parquet); it may print ``{"metadata": {ref: {...}}}``
on stdout. Anything on stderr is its log. The config's ``env`` (secret values included) is
merged onto the inherited environment, so PATH and the rest stay.

The program runs inside the job's process group (core.procs): a timeout or a kill of the
build ends it and everything it started.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from .config import JobConfig
from .errors import ExecutableJobError
from .job import Job, JobContext
from .procs import run_command
from .redact import redact_text
from .refs import PartitionPattern


class _Done:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


class ExecutableJob(Job):
    kinds = ["executable"]

    def __init__(self, label: str, command: Sequence[str], outputs: list[PartitionPattern],
                 code_version: str = "1", timeout: float | None = None,
                 env: dict | None = None):
        self.label = label
        self.command = list(command)
        self.outputs = outputs
        self.code_version = code_version
        self.timeout = timeout
        self.env = env

    def _call(self, args: list[str], stdin: str | None = None, env: dict | None = None,
              timeout: float | None = None, secrets=()) -> _Done:
        full_env = {**os.environ, **(self.env or {}), **(env or {})}
        if not timeout:
            from .executor import job_timeout

            timeout = job_timeout(self)
        limit = timeout
        try:
            code, out, err = run_command(self.command + args, timeout=limit, stdin=stdin,
                                         env=full_env)
        except FileNotFoundError:
            raise ExecutableJobError(f"job {self.label!r}: program {self.command[0]!r} not "
                                     "found; check the command path") from None
        except PermissionError:
            raise ExecutableJobError(f"job {self.label!r}: program {self.command[0]!r} is not "
                                     "executable; chmod +x it") from None
        if code is None:
            raise ExecutableJobError(f"job {self.label!r}: '{args[0]}' timed out after "
                                     f"{limit:g} s; its process group was killed")
        if code != 0:
            tail = (err or "").strip().splitlines()[-5:]
            raise ExecutableJobError(redact_text(
                f"job {self.label!r}: '{' '.join(self.command + args[:1])}' exited with code "
                f"{code}" + (f": {' | '.join(tail)}" if tail else ""), secrets))
        return _Done(code, out, err)

    def _json(self, proc, what: str) -> dict:
        try:
            data = json.loads(proc.stdout or "{}")
        except json.JSONDecodeError as e:
            raise ExecutableJobError(f"job {self.label!r}: '{what}' printed invalid JSON ({e}); "
                                     "print one JSON object on stdout, logs on stderr") from None
        if not isinstance(data, dict):
            raise ExecutableJobError(f"job {self.label!r}: '{what}' must print a JSON object")
        return data

    def configure(self, refs: list[str]) -> list[JobConfig]:
        data = self._json(self._call(["config", *refs]), "config")
        if not isinstance(data.get("configs"), list):
            raise ExecutableJobError(f"job {self.label!r}: 'config' output lacks a 'configs' list")
        return [JobConfig.from_json(c, job=self.label) for c in data["configs"]]

    def request(self, config: JobConfig, ctx: JobContext, scratch) -> dict:
        return {
            **config.to_json(reveal=True),
            "input_paths": {d.ref: (str(p) if (p := ctx.input_path(d.ref)) else None)
                            for d in config.inputs},
            "output_paths": {r: str(scratch / f"{i}.parquet")
                             for i, r in enumerate(sorted(config.outputs))},
        }

    def run(self, config: JobConfig, ctx: JobContext) -> None:
        with tempfile.TemporaryDirectory(prefix=f"databuild-{self.label}-") as tmp:
            req = self.request(config, ctx, Path(tmp))
            # the executor's deadline (job_timeout) governs; this is only a backstop
            proc = self._call(["exec", *config.args], stdin=json.dumps(req), env=config.env,
                              timeout=None if self.timeout is None else self.timeout * 2,
                              secrets=config.secrets)
            for line in (proc.stderr or "").splitlines():
                ctx.log.info("[%s] %s", self.label, line)
            meta = self._json(proc, "exec").get("metadata", {}) if proc.stdout.strip() else {}
            missing = [r for r, p in req["output_paths"].items() if not os.path.exists(p)]
            if missing:
                raise ExecutableJobError(f"job {self.label!r} exited 0 but did not write "
                                         f"{', '.join(missing)}")
            for ref, path in req["output_paths"].items():
                ctx.adopt(ref, path, meta.get(ref, {}))
