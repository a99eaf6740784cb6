"""Names made safe for where they go: Dagster names (letters, digits, ``_``), file and folder
names (also ``.`` and ``-``), task lock keys (also ``:``). One function, so the places that
turn a pipeline, connection or schedule name into one cannot drift apart."""

from __future__ import annotations

import re

DAGSTER = ""  # Dagster op, job, schedule and SQL schema names: [A-Za-z0-9_]
FILE = ".-"  # folder and file names
LOCK = ".:-"  # task lock keys (airbyte:<connection>, dbt:<project>:<target>)


def safe_name(text: str, also: str = DAGSTER) -> str:
    """``text`` with every character outside [A-Za-z0-9_] and ``also`` replaced by ``_``."""
    return re.sub(f"[^A-Za-z0-9_{re.escape(also)}]", "_", text)
