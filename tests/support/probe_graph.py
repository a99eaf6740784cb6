"""A one-job graph around probe_exe.py, importable by CLI subprocesses (PROBE_CONFIG)."""

import json
import sys
from pathlib import Path

from databuild_assets.core import ExecutableJob, Graph, PartitionPattern

PROBE_EXE = [sys.executable, str(Path(__file__).with_name("probe_exe.py"))]
PROBE = PartitionPattern("probe/d={d}")


def make(catalog=None, data_root=None, config: dict | None = None) -> Graph:
    env = {"PROBE_CONFIG": json.dumps(config)} if config is not None else None
    return Graph([ExecutableJob("probe", PROBE_EXE, [PROBE], env=env)], catalog, data_root)


graph = make()
