"""Goal 7: the first ``databuild demo`` (``make demo`` once the project venv exists), the
second one (a null build) and adding one day, each as a user runs it: a ``databuild``
process, wall time from start to exit.

* ``first_run_fresh_connectors``: fresh state folder, empty connector folder and an empty
  uv cache (the connector and its dependencies are downloaded and installed);
* ``first_run_cached_connectors``: another fresh state folder reusing the connector folder
  the first run installed (what a second project on the same machine pays);
* ``second_run``: ``databuild demo`` again on that state folder;
* ``add_one_day``: ``databuild sample-data --end <day 15> --days 15`` (the next day's landing
  file) and ``databuild build podcast_report/date=<day 15>``.

Each ``databuild demo`` prints where its time went; those phases are in the figures.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

from .common import Timer, log, rnd, scratch

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
BUILD_S = re.compile(r"(?:succeeded|FAILED):.* in ([\d.]+)s")  # the build's own summary line
PHASES = re.compile(r"(install|ingest|dbt|python jobs|planning and bookkeeping) ([\d.]+)s")


def _run(cmd: list[str], env: dict[str, str], timeout: float = 1800) -> tuple[float, str]:
    with Timer() as t:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} failed ({proc.returncode}): "
                           f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return t.seconds, proc.stdout


def _figure(seconds: float, out: str) -> dict:
    line = next((x for x in out.splitlines() if x.startswith("time:")), "")
    built = BUILD_S.search(out)
    return {"seconds": rnd(seconds, 2), "build_s": float(built.group(1)) if built else None,
            "phases": {k: float(v) for k, v in PHASES.findall(line)}}


def demo_timings() -> dict:
    from databuild_assets.examples.podcast_reviews.demo import DEMO_DAYS, DEMO_END

    base = {k: v for k, v in os.environ.items() if not k.startswith(("DATABUILD_", "DAGSTER_"))}
    base["COLUMNS"] = "200"
    out: dict = {"command": "databuild demo", "days": DEMO_DAYS,
                 "note": "wall time of each databuild process; the project venv install "
                         "(make install) is not included"}
    with scratch() as folder:
        connectors = folder / "airbyte"

        def env(home: str, **extra: str) -> dict[str, str]:
            return {**base, "DATABUILD_HOME": str(folder / home), "DATABUILD_PROJECT_DIR":
                    str(REPO), "DATABUILD_AIRBYTE_HOME": str(connectors), **extra}

        demo = [str(BIN / "databuild"), "demo"]
        log("demo: first run, empty connector folder and uv cache")
        out["first_run_fresh_connectors"] = _figure(*_run(
            demo, env("a", UV_CACHE_DIR=str(folder / "uv-cache"))))
        log("demo: first run of another state folder, connector installed")
        out["first_run_cached_connectors"] = _figure(*_run(demo, env("b")))
        log("demo: second run (null build)")
        out["second_run"] = _figure(*_run(demo, env("b")))
        day = (dt.date.fromisoformat(DEMO_END) + dt.timedelta(days=1)).isoformat()
        log(f"demo: add {day} and build its report")
        gen, _ = _run([str(BIN / "databuild"), "sample-data", "--end", day, "--days",
                       str(DEMO_DAYS + 1)], env("b"))
        build, _ = _run([str(BIN / "databuild"), "build", f"podcast_report/date={day}"],
                        env("b"))
        out["add_one_day"] = {"seconds": rnd(gen + build, 2), "sample_data_s": rnd(gen, 2),
                              "build_s": rnd(build, 2)}
    return out


if __name__ == "__main__":  # python -m benchmarks.demo_bench
    import json

    print(json.dumps(demo_timings(), indent=2))
