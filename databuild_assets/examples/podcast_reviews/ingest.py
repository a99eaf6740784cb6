"""Ingest through the airbyte-sync task (PyAirbyte running source-file over the landing
files), the podcast catalog, and validation with a dead-letter dataset."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from databuild_assets.core import Job, JobConfig, materialize
from databuild_assets.core.refs import contiguous_dates

from .datasets import DEAD_LETTERS, PODCASTS, REVIEWS, VALIDATED
from .sample_data import day_path
from .validation import dlq_counts, validate

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
        path = Path(self.env.landing) / "podcasts.jsonl"
        if not path.exists():
            ctx.fail("podcasts", f"no podcast catalog at {path}; run `databuild sample-data`")
            return
        ctx.write("podcasts", pd.read_json(path, lines=True, dtype=False))


class IngestReviews(Job):
    """One Airbyte sync per landing file; contiguous days are one config."""

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

        wh = Warehouse(self.env.target)
        for ref in sorted(config.outputs):
            day = REVIEWS.parse(ref)["date"]
            path = day_path(Path(self.env.landing), day)
            if not path.exists():
                ctx.fail(ref, f"no landing file {path}; run `databuild sample-data` first")
                continue
            conn = AirbyteConnection.from_dict("podcast_landing", {
                "source": "source-file", "pip_url": "airbyte-source-file",
                "config": {"dataset_name": "reviews", "format": "jsonl", "url": str(path),
                           "provider": {"storage": "local"}},
                "schema": "airbyte_podcast", "write_strategy": "replace", "full_refresh": True})
            out = sync(conn, self.env.target, timeout=900, log=ctx.log,
                       install_root=self.env.airbyte_home)
            if not out.ok:
                ctx.fail(ref, f"airbyte-sync of {path.name} for {day}: {out.status}: {out.message}")
                continue
            df = wh.query('select * from "airbyte_podcast"."reviews"')
            df = df[[c for c in RAW_COLUMNS if c in df.columns]]
            df = df.astype(object).where(df.notna(), None)  # as landed; validation judges
            ctx.write(ref, df, {"records": len(df), "airbyte_job": str(out.job_id or "embedded"),
                                "airbyte_mode": conn.mode})


class ValidateReviews(Job):
    """Clean records continue; every bad record goes to the dead letters with its reason."""

    label, outputs, code_version, group = "validate_reviews", [VALIDATED, DEAD_LETTERS], "1", \
        "quality"

    def configure(self, refs):
        days = sorted({r.rsplit("date=", 1)[1] for r in refs})
        return [JobConfig(outputs=[VALIDATED.format(date=d), DEAD_LETTERS.format(date=d)],
                          inputs=materialize(REVIEWS.format(date=d), "podcasts")) for d in days]

    def run(self, config, ctx):
        day = min(config.outputs).rsplit("date=", 1)[1]
        src = REVIEWS.format(date=day)
        raw = ctx.read(src)
        podcast_ids = set(ctx.read("podcasts")["podcast_id"].astype(str))
        clean, dead = validate(raw, podcast_ids, src)
        counts = dlq_counts(dead)
        meta = {"good": len(clean), "bad": len(dead), "bad_by_reason": json.dumps(counts)}
        ctx.write(VALIDATED.format(date=day), clean, meta)
        ctx.write(DEAD_LETTERS.format(date=day), dead, meta)
