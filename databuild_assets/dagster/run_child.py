"""One Dagster run of `build --dagster` executed in a fresh interpreter.

Several runs in flight each need a process (Dagster redirects stdout/stderr per run,
process-wide). A plain fork of the multi-threaded build process is not safe: a child can
inherit a SQLite mutex another thread held at fork time and hang forever opening the
Dagster instance (seen in CI). So the forked, process-group-owning child of
``core.procs.run_isolated`` only execs this module, which starts clean.

Protocol: argv[1] is a file holding the pickled ``(recon, dagster_home, kwargs)``;
the outcome ``(run_id, success)`` is pickled back into argv[2].
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile


def run_in_fresh_interpreter(recon, home: str, kwargs: dict) -> tuple[str, bool]:
    """Called in the forked child: run the Dagster run in a new interpreter, same group."""
    with tempfile.TemporaryDirectory(prefix="databuild-run-") as tmp:
        job, out = os.path.join(tmp, "job.pickle"), os.path.join(tmp, "result.pickle")
        with open(job, "wb") as f:
            pickle.dump((recon, home, kwargs), f)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        proc = subprocess.run([sys.executable, "-m", __name__, job, out], env=env,
                              check=False)
        if not os.path.exists(out):
            raise RuntimeError(f"the Dagster run process exited with code {proc.returncode} "
                               "before reporting its outcome")
        with open(out, "rb") as f:
            return pickle.load(f)


def main(argv: list[str]) -> int:
    import dagster as dg

    from .run_contract import one_planned_event_per_asset

    with open(argv[1], "rb") as f:
        recon, home, kwargs = pickle.load(f)
    with one_planned_event_per_asset(), dg.execute_job(
            recon, instance=dg.DagsterInstance.from_config(home), **kwargs) as res:
        outcome = (res.run_id, res.success)
    with open(argv[2], "wb") as f:
        pickle.dump(outcome, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
