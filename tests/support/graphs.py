"""A controllable test graph: landing files the test edits, execution logging, delays
and injected failures. Importable by subprocesses through ``graph_from_env``."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd

from databuild_assets.core import (
    Graph,
    Job,
    JobConfig,
    PartitionPattern,
    date_range,
    materialize,
    query,
    shift_date,
)

GATE_LIMIT_S = 120.0  # safety net: a gate the test never opens stops holding the jobs


def _log(root: Path, job: str, refs) -> None:
    with open(root / "executions.log", "a") as f:
        for r in sorted(refs):
            f.write(f"{job} {r}\n")
            f.flush()


def executions(root: Path) -> list[str]:
    p = Path(root) / "executions.log"
    return p.read_text().split("\n")[:-1] if p.exists() else []


def land(root: Path, day: str, values: list[int]) -> None:
    (Path(root) / "landing").mkdir(parents=True, exist_ok=True)
    (Path(root) / "landing" / f"{day}.json").write_text(json.dumps(values))


class _Base(Job):
    def __init__(self, root: Path, opts: dict):
        self.root = Path(root)
        self.opts = opts
        self.code_version = opts.get("code", {}).get(self.label, "1")

    def _work(self, ref):
        gate = self.opts.get("gate")  # a file the test creates when the jobs may go on
        if gate:
            deadline = time.monotonic() + GATE_LIMIT_S
            while not Path(gate).exists() and time.monotonic() < deadline:
                time.sleep(0.02)
        delay = self.opts.get("delay", 0) + self.opts.get("slow", {}).get(ref, 0)
        if delay:
            time.sleep(delay)
        if ref in self.opts.get("fail", ()):
            raise RuntimeError(f"injected failure for {ref}")
        if ref in self.opts.get("broken", ()):  # a permanent failure
            raise ValueError(f"schema validation failed for {ref}: column 'value' missing")
        times = self.opts.get("flaky", {}).get(ref, 0)  # transient: fails `times` times
        if times:
            counter = self.root / "flaky" / ref.replace("/", "_")
            counter.parent.mkdir(parents=True, exist_ok=True)
            seen = int(counter.read_text()) if counter.exists() else 0
            counter.write_text(str(seen + 1))
            if seen < times:
                raise TimeoutError(f"warehouse timed out loading {ref} (attempt {seen + 1})")


def make_graph(root, catalog=None, **opts) -> Graph:
    """opts: versions={dataset: ver}, code={job: ver}, delay=seconds, fail={refs},
    broken={refs} (schema error), flaky={ref: times} (timeouts), slow={ref: seconds},
    gate=path (every job waits until that file exists: builds started side by side overlap
    for certain, however slowly each process starts)."""
    root = Path(root)
    v = opts.get("versions", {})
    SRC = PartitionPattern("src/date={date}", dims={"date": "date"}, version=v.get("src", "1.0.0"))
    FX = PartitionPattern("fx/date={date}", dims={"date": "date"})
    DAILY = PartitionPattern("daily/date={date}", dims={"date": "date"},
                             version=v.get("daily", "1.0.0"))
    A = PartitionPattern("part_a/date={date}", dims={"date": "date"})
    B = PartitionPattern("part_b/date={date}", dims={"date": "date"})
    CUBE = PartitionPattern("cube/color={color}/size={size}/date={date}",
                            dims={"color": ["red", "blue"], "size": ["s", "m", "l"],
                                  "date": "date"})
    TRAIL = PartitionPattern("trail/date={date}", dims={"date": "date"})

    class LoadSrc(_Base):
        label, outputs = "load_src", [SRC]

        def configure(self, refs):
            return [JobConfig(outputs=refs)]  # one config per request: a batch

        def run(self, config, ctx):
            for ref in sorted(config.outputs):
                day = SRC.parse(ref)["date"]
                try:
                    self._work(ref)
                except RuntimeError as e:
                    ctx.fail(ref, str(e))
                    continue
                f = self.root / "landing" / f"{day}.json"
                values = json.loads(f.read_text()) if f.exists() else [1, 2, 3]
                _log(self.root, self.label, [ref])
                ctx.write(ref, pd.DataFrame({"value": values}))

    class LoadFx(_Base):
        label, outputs = "load_fx", [FX]

        def configure(self, refs):
            return [JobConfig(outputs=[r]) for r in refs]

        def run(self, config, ctx):
            self._work(min(config.outputs))
            _log(self.root, self.label, config.outputs)
            ctx.write(min(config.outputs), pd.DataFrame({"rate": [2.0]}))

    class Daily(_Base):
        label, outputs = "daily", [DAILY]

        def configure(self, refs):
            return [JobConfig(outputs=[r], inputs=materialize(SRC.format(**DAILY.parse(r)))
                              | query(FX.format(**DAILY.parse(r)))) for r in refs]

        def run(self, config, ctx):
            (ref,) = config.outputs
            self._work(ref)
            src = ctx.read(SRC.format(**DAILY.parse(ref)))
            fx = ctx.read(FX.format(**DAILY.parse(ref)))
            rate = float(fx.rate.iloc[0]) if fx is not None else 1.0
            _log(self.root, self.label, [ref])
            ctx.write(ref, pd.DataFrame({"total": [float(src.value.sum()) * rate]}))

    class Split(_Base):
        label, outputs = "split", [A, B]

        def configure(self, refs):
            days = sorted({r.split("date=")[1] for r in refs})
            return [JobConfig(outputs=[A.format(date=d), B.format(date=d)],
                              inputs=materialize(DAILY.format(date=d))) for d in days]

        def run(self, config, ctx):
            day = min(config.outputs).split("date=")[1]
            self._work(A.format(date=day))
            t = ctx.read(DAILY.format(date=day))
            _log(self.root, self.label, config.outputs)
            ctx.write(A.format(date=day), t.assign(half=t.total / 2))
            ctx.write(B.format(date=day), t.assign(double=t.total * 2))

    class Cube(_Base):
        label, outputs = "cube", [CUBE]

        def configure(self, refs):
            by_day = {}
            for r in refs:
                by_day.setdefault(CUBE.parse(r)["date"], []).append(r)
            return [JobConfig(outputs=rs, inputs=materialize(A.format(date=d)))
                    for d, rs in sorted(by_day.items())]

        def run(self, config, ctx):
            a = ctx.read(next(iter(config.inputs)).ref)
            _log(self.root, self.label, config.outputs)
            for r in sorted(config.outputs):
                ctx.write(r, a.assign(**CUBE.parse(r)))

    class Trail(_Base):
        label, outputs = "trail", [TRAIL]

        def configure(self, refs):
            return [JobConfig(outputs=[r], inputs=materialize(*[
                DAILY.format(date=d)
                for d in date_range(shift_date(TRAIL.parse(r)["date"], -6), TRAIL.parse(r)["date"])
            ])) for r in refs]

        def run(self, config, ctx):
            (ref,) = config.outputs
            self._work(ref)
            total = sum(float(ctx.read(i).total.sum()) for i in config.materialize_inputs)
            _log(self.root, self.label, [ref])
            ctx.write(ref, pd.DataFrame({"trailing_total": [total]}))

    jobs = [cls(root, opts) for cls in (LoadSrc, LoadFx, Daily, Split, Cube, Trail)]
    return Graph(jobs, catalog=catalog, data_root=root / "data", name="test")


def graph_from_env() -> Graph:
    """For subprocess builds: DBTEST_ROOT, DBTEST_OPTS (JSON)."""
    opts = json.loads(os.environ.get("DBTEST_OPTS", "{}"))
    if "fail" in opts:
        opts["fail"] = set(opts["fail"])
    return make_graph(Path(os.environ["DBTEST_ROOT"]), **opts)
