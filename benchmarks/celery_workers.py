"""Celery workers for Dagster's Celery executor (dagster-celery), started as real processes
against a RabbitMQ broker: what deploy/celery documents, used by the Celery benchmark and
tests/integration/test_celery.py.

Each group of workers listens on its own queue (``databuild-<random>``), so concurrent test
runs and stale workers of other sessions never take each other's steps; the executor config
names the same queue as the Celery ``task_default_queue``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_BROKER = "pyamqp://guest:guest@127.0.0.1:5672//"


def broker_problem(broker: str) -> str | None:
    """None when the broker accepts an AMQP login, else why not (one line)."""
    from kombu import Connection

    try:
        with Connection(broker, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1, timeout=5)
        return None
    except Exception as e:  # noqa: BLE001
        return f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"


def executor_config(broker: str, queue: str) -> dict:
    """The ``execution.config`` of a job on ``celery_executor`` that sends its steps to
    ``queue`` (what ``build_with_dagster(..., celery=...)`` passes through)."""
    return {"broker": broker, "backend": "rpc://",
            "config_source": {"task_default_queue": queue}}


class CeleryWorkers:
    """``count`` worker processes (``dagster-celery worker start``, one task at a time each),
    each in its own process group so stopping them ends the Celery pool children too."""

    def __init__(self, folder: Path, count: int, broker: str = DEFAULT_BROKER,
                 env: dict[str, str] | None = None):
        self.folder, self.count, self.broker = folder, count, broker
        self.queue = f"databuild-{uuid.uuid4().hex[:10]}"
        self.config = executor_config(broker, self.queue)
        self.names = [f"w{i}-{self.queue}" for i in range(count)]
        self.procs: list[subprocess.Popen] = []
        self.env = dict(env if env is not None else os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(
            [str(REPO)] + [p for p in self.env.get("PYTHONPATH", "").split(os.pathsep) if p])
        self.env["PATH"] = f"{BIN}{os.pathsep}{self.env.get('PATH', '')}"  # it runs `celery`
        # deploy/celery/celery.yaml reads the broker from here, in the runs and the workers
        self.env["DATABUILD_CELERY_BROKER"] = broker

    def logs(self) -> str:
        return "\n".join(f"--- {p.log}\n" + Path(p.log).read_text()[-3000:] for p in self.procs)

    def start(self, timeout: float = 180) -> CeleryWorkers:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "celery.yaml"
        config.write_text(yaml.safe_dump({"execution": {"config": self.config}}))
        for name in self.names:
            home = self.folder / name  # the CLI writes its config module under DAGSTER_HOME
            home.mkdir(exist_ok=True)
            (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
            log = self.folder / f"{name}.log"
            proc = subprocess.Popen(
                [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app",
                 "-y", str(config), "-q", self.queue, "-n", name, "-l", "INFO",
                 "--", "--concurrency=1", "--without-gossip", "--without-mingle"],
                cwd=self.folder, env={**self.env, "DAGSTER_HOME": str(home)},
                stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)
            proc.log = str(log)
            self.procs.append(proc)
        deadline = time.monotonic() + timeout
        while not all(" ready." in Path(p.log).read_text() for p in self.procs):
            dead = [p for p in self.procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                self.stop()
                why = "exited" if dead else f"not ready after {timeout:.0f} s"
                raise RuntimeError(f"Celery worker {why}:\n{self.logs()}")
            time.sleep(0.5)
        return self

    def stop(self) -> None:
        for proc in self.procs:  # the whole group: the CLI, celery and its pool child
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def __enter__(self) -> CeleryWorkers:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
