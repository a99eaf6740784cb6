"""A build in a subprocess with a fault point: ``python -m tests.faults.runner REF...``.

FAULTS_PAUSE names where the build stops (writes ``<root>/paused`` and sleeps, waiting to
be killed): ``after_claim``, ``before_commit`` (data written, manifest not committed),
``between_nodes``. FAULTS_JOBS=N runs up to N plan nodes at once (build --jobs N).
FAULTS_ROUNDS=N runs N rounds: before round i it waits for
``<root>/go-i``, builds the refs with ``{d}`` replaced by the round's day, and appends its
summary to ``<root>/results-<FAULTS_NAME>.jsonl``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from databuild_assets.core.build_run import BuildRun
from databuild_assets.core.catalog import Catalog
from tests.faults.graph import graph_from_env

ROOT = Path(os.environ["FAULTS_ROOT"])


def pause() -> None:
    (ROOT / "paused").write_text(str(os.getpid()))
    time.sleep(3600)


def install(point: str) -> None:
    if point == "after_claim":
        claim = Catalog.claim

        def claimed(self, refs, build_id):
            holder = claim(self, refs, build_id)
            if holder is None:
                pause()
            return holder
        Catalog.claim = claimed
    elif point == "before_commit":
        commit_many = Catalog.commit_many

        def commit(self, items, events=()):
            pause()
            return commit_many(self, items, events)
        Catalog.commit_many = commit
    elif point == "between_nodes":
        node, seen = BuildRun.node, []

        def second(self, n, plan):
            seen.append(n)
            if len(seen) == 2:
                pause()
            return node(self, n, plan)
        BuildRun.node = second


def main(refs: list[str]) -> int:
    install(os.environ.get("FAULTS_PAUSE", ""))
    graph = graph_from_env().bind(os.environ["FAULTS_CATALOG"])
    rounds = int(os.environ.get("FAULTS_ROUNDS", "0"))
    jobs = int(os.environ.get("FAULTS_JOBS", "1"))
    if not rounds:
        result = graph.build(refs, origin="cli", jobs=jobs)
        print(json.dumps({**result.summary(), "failed_refs": result.failed}))
        return 0 if result.ok else 1
    out = ROOT / f"results-{os.environ['FAULTS_NAME']}.jsonl"
    for i in range(rounds):
        while not (ROOT / f"go-{i}").exists():
            time.sleep(0.02)
        day = f"2024-03-{i + 1:02d}"
        try:
            result = graph.build([r.format(d=day) for r in refs], jobs=jobs)
            line = {**result.summary(), "failed_refs": result.failed,
                    "blocked_refs": result.blocked, "round": i}
        except Exception as e:  # noqa: BLE001 - reported to the test, which fails on it
            line = {"round": i, "ok": False, "error": f"{type(e).__name__}: {e}"}
        with open(out, "a") as f:
            f.write(json.dumps(line) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
