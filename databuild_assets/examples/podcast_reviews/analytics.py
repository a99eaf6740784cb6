"""Python jobs over dbt outputs: phrase stats, trailing ratings, and the HTML report.

trailing_ratings/category=C/date=D reads seven days of one category of a two-dimension
dataset: a dependency no Dagster partition mapping can express; configure() states it."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from databuild_assets.core import Job, JobConfig, date_range, materialize, shift_date

from .datasets import CATEGORIZED, DEAD_LETTERS, PHRASES, REPORT, SUMMARY, TRAILING, WINDOW_DAYS
from .sample_data import CATEGORIES

if TYPE_CHECKING:  # pandas is imported by the jobs' run(): loading the graph stays cheap
    import pandas as pd

STOPWORDS = set("the this a an and but with about for from it is was so very i to of in on my "
                "their they he she we you".split())


VOLUME_DAYS = 14  # two full weeks: every weekday counted twice in the seasonality chart


def window(day: str, days: int = WINDOW_DAYS) -> list[str]:
    return date_range(shift_date(day, -(days - 1)), day)


def top_phrases(texts: list[str], n: int = 20) -> pd.DataFrame:
    counts: Counter = Counter()
    for t in texts:
        words = [w for w in re.findall(r"[a-z']+", (t or "").lower()) if w not in STOPWORDS]
        counts.update(" ".join(p) for p in zip(words, words[1:], strict=False))
    rows = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
    import pandas as pd

    return pd.DataFrame(rows, columns=["phrase", "count"])


class PhraseStats(Job):
    """Top two-word phrases per category and day."""

    label, outputs, code_version, group = "phrase_stats", [PHRASES], "1", "analytics"

    def configure(self, refs):
        return [JobConfig(outputs=[r], inputs=materialize(CATEGORIZED.format(**PHRASES.parse(r))))
                for r in refs]

    def run(self, config, ctx):
        (ref,) = config.outputs
        reviews = ctx.read(CATEGORIZED.format(**PHRASES.parse(ref)))
        ctx.write(ref, top_phrases(list(reviews["content"]) if len(reviews) else []))


class TrailingRatings(Job):
    """Average rating of one category over the seven days ending on the date."""

    label, outputs, code_version, group = "trailing_ratings", [TRAILING], "1", "analytics"

    def configure(self, refs):
        out = []
        for r in refs:
            v = TRAILING.parse(r)
            out.append(JobConfig(outputs=[r], inputs=materialize(*[
                CATEGORIZED.format(category=v["category"], date=d) for d in window(v["date"])])))
        return out

    def run(self, config, ctx):
        import pandas as pd

        (ref,) = config.outputs
        v = TRAILING.parse(ref)
        rows = []
        for d in window(v["date"]):
            df = ctx.read(CATEGORIZED.format(category=v["category"], date=d))
            rows.append({"category": v["category"], "date": d, "n_reviews": len(df),
                         "sum_rating": int(df["rating"].sum()) if len(df) else 0})
        out = pd.DataFrame(rows)
        out["avg_rating"] = (out.sum_rating / out.n_reviews.where(out.n_reviews > 0)).round(4)
        total = out.n_reviews.sum()
        out["window_avg_rating"] = round(out.sum_rating.sum() / total, 4) if total else None
        ctx.write(ref, out)


class PodcastReport(Job):
    """The daily HTML report: ratings by category over the window, volume by weekday, DLQ."""

    label, outputs, code_version, group = "podcast_report", [REPORT], "1", "reporting"
    kinds = ["python", "html"]

    def __init__(self, env):
        self.env = env

    def configure(self, refs):
        out = []
        for r in refs:
            day = REPORT.parse(r)["date"]
            out.append(JobConfig(outputs=[r], inputs=materialize(
                *[TRAILING.format(category=c, date=day) for c in CATEGORIES],
                *[SUMMARY.format(date=d) for d in window(day, VOLUME_DAYS)],
                *[DEAD_LETTERS.format(date=d) for d in window(day, VOLUME_DAYS)])))
        return out

    def run(self, config, ctx):
        import pandas as pd

        from .report import render_report
        from .validation import dlq_counts

        (ref,) = config.outputs
        day = REPORT.parse(ref)["date"]
        trailing = pd.concat([ctx.read(TRAILING.format(category=c, date=day))
                              for c in CATEGORIES], ignore_index=True)
        summary = pd.concat([ctx.read(SUMMARY.format(date=d)) for d in window(day, VOLUME_DAYS)],
                            ignore_index=True)
        volume = summary.groupby("review_date", as_index=False)["n_reviews"].sum().rename(
            columns={"review_date": "date"})
        dead = pd.concat([ctx.read(DEAD_LETTERS.format(date=d))
                          for d in window(day, VOLUME_DAYS)], ignore_index=True)
        dlq = dlq_counts(dead)
        totals = {"reviews": int(summary.n_reviews.sum()), "categories": int(
            summary.category.nunique()), "bad_records": int(sum(dlq.values())),
            "window": f"{window(day, VOLUME_DAYS)[0]} .. {day} (ratings: last "
                      f"{WINDOW_DAYS} days)"}
        html = render_report(day, trailing, volume, dlq, totals)
        path = Path(self.env.reports_dir) / f"podcast_report_{day}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".html.tmp")
        tmp.write_text(html)
        tmp.replace(path)  # atomic: a reader never sees half a report
        ctx.write(ref, pd.DataFrame({"date": [day], "html": [html], **{
            k: [str(v)] for k, v in totals.items()}}), {"report_path": str(path), **totals})
