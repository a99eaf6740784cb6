"""Ingest through the airbyte-sync task (PyAirbyte running source-file over the landing
files), the podcast catalog, and validation with a dead-letter dataset."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from databuild_assets.core import Job, JobConfig, materialize
from databuild_assets.core.refs import contiguous_dates

from .datasets import DEAD_LETTERS, PODCASTS, REVIEWS, VALIDATED
from .sample_data import day_path

RAW_COLUMNS = ["review_id", "podcast_id", "author_id", "rating", "title", "content",
               "created_at"]


def file_version(path: Path) -> str:
    """Content hash of a landing file: a changed file makes its partition stale."""
    if not path.exists():
        return "missing"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:32]


class LoadPodcasts(Job):
    """The podcast catalog from the upstream system's podcasts.jsonl."""

    label, outputs, code_version, group = "load_podcasts", [PODCASTS], "1", "ingest"

    def __init__(self, env):
        self.env = env

    def configure(self, refs):
        return [JobConfig(outputs=refs)]

    def observe(self, ref):
        return file_version(Path(self.env.landing) / "podcasts.jsonl")

    def run(self, config, ctx):
        import pandas as pd  # here, not at import: loading the graph stays cheap

        path = Path(self.env.landing) / "podcasts.jsonl"
        if not path.exists():
            ctx.fail("podcasts", f"no podcast catalog at {path}; run `databuild sample-data`")
            return
        ctx.write("podcasts", pd.read_json(path, lines=True, dtype=False))


class IngestReviews(Job):
    """One Airbyte sync per config: contiguous days are one config, and their landing files
    are synced together (one connector start instead of one per day, the slow part of a
    first build), each record tagged with the landing file it came from."""

    label, outputs, code_version, group = "ingest_reviews", [REVIEWS], "1", "ingest"
    kinds = ["airbyte", "python"]

    def __init__(self, env):
        self.env = env

    def configure(self, refs):
        days = [REVIEWS.parse(r)["date"] for r in refs]
        return [JobConfig(outputs=[REVIEWS.format(date=d) for d in run]) for run in contiguous_dates(days)]

    def observe(self, ref):
        return file_version(day_path(Path(self.env.landing), REVIEWS.parse(ref)["date"]))

    def run(self, config, ctx):
        from resources.airbyte import AirbyteConnection, sync
        from resources.warehouse import Warehouse

        days: dict[str, str] = {}
        for ref in sorted(config.outputs):
            day = REVIEWS.parse(ref)["date"]
            path = day_path(Path(self.env.landing), day)
            if path.exists():
                days[ref] = day
            else:
                ctx.fail(ref, f"no landing file {path}; run `databuild sample-data` first")
        if not days:
            return
        batch = _landing_batch(Path(self.env.landing), sorted(days.values()),
                               Path(self.env.airbyte_home) / "landing_batches")
        conn = AirbyteConnection.from_dict("podcast_landing", {
            "source": "source-file", "pip_url": "airbyte-source-file",
            "config": {"dataset_name": "reviews", "format": "jsonl", "url": str(batch),
                       "provider": {"storage": "local"}},
            "schema": "airbyte_podcast", "write_strategy": "replace", "full_refresh": True})
        out = sync(conn, self.env.target, timeout=900, log=ctx.log,
                   install_root=self.env.airbyte_home)
        batch.unlink(missing_ok=True)
        span = f"{min(days.values())}..{max(days.values())}"
        if not out.ok:
            for ref, day in days.items():
                ctx.fail(ref, f"airbyte-sync of the landing files {span} for {day}: "
                              f"{out.status}: {out.message}")
            return
        df = Warehouse(self.env.target).query('select * from "airbyte_podcast"."reviews"')
        landed = df[LANDING_DATE].astype(str) if LANDING_DATE in df.columns else None
        df = df[[c for c in RAW_COLUMNS if c in df.columns]].copy()
        text = df.select_dtypes(include="object").columns  # as landed; validation judges
        df[text] = df[text].where(df[text].notna(), None)  # dtypes kept: a Parquet round
        # trip gives back the same frame (and data version); rating stays int64
        for ref, day in days.items():
            part = df[(landed == day).to_numpy()].reset_index(drop=True) \
                if landed is not None else df.iloc[0:0]
            ctx.write(ref, part, {"records": len(part), "airbyte_sync_days": len(days),
                                  "airbyte_job": str(out.job_id or "embedded"),
                                  "airbyte_mode": conn.mode})


LANDING_DATE = "_landing_date"


def _landing_batch(landing: Path, days: list[str], folder: Path) -> Path:
    """The days' landing files as one JSONL file for one sync, each record tagged with its
    landing day (records are otherwise as landed, in file order)."""
    folder.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha256(str(landing).encode()).hexdigest()[:8]
    path = folder / f"reviews_{days[0]}_{days[-1]}_{key}.jsonl"
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as out:
        for day in days:
            with open(day_path(landing, day)) as f:
                for line in f:
                    if line.strip():
                        out.write(json.dumps({**json.loads(line), LANDING_DATE: day}) + "\n")
    tmp.replace(path)
    return path


class ValidateReviews(Job):
    """Clean records continue; every bad record goes to the dead letters with its reason."""

    label, outputs, code_version, group = "validate_reviews", [VALIDATED, DEAD_LETTERS], "1", \
        "quality"

    def configure(self, refs):
        days = sorted({r.rsplit("date=", 1)[1] for r in refs})
        return [JobConfig(outputs=[VALIDATED.format(date=d), DEAD_LETTERS.format(date=d)],
                          inputs=materialize(REVIEWS.format(date=d), "podcasts")) for d in days]

    def run(self, config, ctx):
        from .validation import dlq_counts, validate

        day = min(config.outputs).rsplit("date=", 1)[1]
        src = REVIEWS.format(date=day)
        raw = ctx.read(src)
        podcast_ids = set(ctx.read("podcasts")["podcast_id"].astype(str))
        clean, dead = validate(raw, podcast_ids, src)
        counts = dlq_counts(dead)
        meta = {"good": len(clean), "bad": len(dead), "bad_by_reason": json.dumps(counts)}
        ctx.write(VALIDATED.format(date=day), clean, meta)
        ctx.write(DEAD_LETTERS.format(date=day), dead, meta)
