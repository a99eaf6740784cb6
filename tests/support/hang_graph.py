"""Jobs that hang (a Python job and an executable, each with a grandchild ``sleep``), for
the timeout and process-tree tests. Each records its process ids in ``<root>/pids-<job>.json``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from databuild_assets.core import ExecutableJob, Graph, Job, JobConfig, PartitionPattern

HANG_EXE = [sys.executable, str(Path(__file__).with_name("hang_exe.py"))]


def record_pids(path: Path, grandchild: int) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"pid": os.getpid(), "pgid": os.getpgrp(),
                               "grandchild": grandchild}))
    os.replace(tmp, path)


class Hang(Job):
    label = "hang"
    outputs = [PartitionPattern("hang/d={d}")]

    def __init__(self, root, timeout=None):
        self.root = Path(root)
        self.timeout = timeout

    def configure(self, refs):
        return [JobConfig(outputs=[r]) for r in refs]

    def run(self, config, ctx):
        child = subprocess.Popen(["sleep", "300"])
        record_pids(self.root / "pids-hang.json", child.pid)
        time.sleep(300)


def make(root, catalog=None, timeout=None) -> Graph:
    root = Path(root)
    exe = ExecutableJob("hang_exe", HANG_EXE, [PartitionPattern("hang_exe/d={d}")],
                        timeout=timeout, env={"HANG_PIDS": str(root / "pids-hang_exe.json")})
    return Graph([Hang(root, timeout), exe], catalog, root / "data")


def graph_from_env() -> Graph:
    t = os.environ.get("HANG_TIMEOUT")
    return make(os.environ["DBTEST_ROOT"], timeout=float(t) if t else None)
