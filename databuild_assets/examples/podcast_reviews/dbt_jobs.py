"""Jobs that run the dbt project for a range of dates.

Each loads its input partitions into the warehouse (delete+insert per partition, so the
warehouse always matches the catalog), runs `dbt build` for the date range through the same
per-run DbtCliResource as the dbt tasks, then exports each output partition back."""

from __future__ import annotations

from databuild_assets.core import Job, JobConfig, contiguous_dates, materialize

from .datasets import CATEGORIZED, SUMMARY, VALIDATED
from .sample_data import CATEGORIES


class _DbtJob(Job):
    group = "dbt"
    kinds = ["dbt", "python"]

    def __init__(self, env):
        self.env = env

    def _dbt(self, ctx, select: str, days: list[str]) -> str | None:
        """Run dbt; the error message, or None when models and tests passed."""
        from resources.dbt import run_dbt

        # the dates as environment variables, not --vars: dbt re-parses only the models that
        # read them and keeps the rest of its parse cache (dbt_project.yml says more)
        out = run_dbt("build", {"select": select, "env": {
            "DATABUILD_DBT_DATE_FROM": days[0], "DATABUILD_DBT_DATE_TO": days[-1]}},
            self.env.target, project_dir=self.env.dbt_project, log=ctx.log, quiet=True,
            parse_cache=getattr(self.env, "dbt_parse_cache", None))
        self.last_results = out.results
        return None if out.ok else out.message

    def _tests_meta(self) -> dict:
        res = getattr(self, "last_results", [])
        tests = [r for r in res if r["node"].startswith("test.")]
        return {"dbt_tests": len(tests),
                "dbt_tests_failed": sum(r["status"] in ("fail", "error") for r in tests)}


class DbtCategorize(_DbtJob):
    """Reviews with their podcast's category (dbt: stg_reviews, categorized_reviews)."""

    label, outputs, code_version = "dbt_categorize", [CATEGORIZED], "1"

    def configure(self, refs):
        days = [CATEGORIZED.parse(r)["date"] for r in refs]
        return [JobConfig(
            outputs=[CATEGORIZED.format(category=c, date=d) for d in run for c in CATEGORIES],
            inputs=materialize("podcasts", *[VALIDATED.format(date=d) for d in run]),
            args=[run[0], run[-1]]) for run in contiguous_dates(days)]

    def inputs_of(self, config, output):
        return {"podcasts", VALIDATED.format(date=CATEGORIZED.parse(output)["date"])}

    def run(self, config, ctx):
        import pandas as pd  # here, not at import: loading the graph stays cheap

        from resources.warehouse import Warehouse

        wh = Warehouse(self.env.target)
        days = sorted({CATEGORIZED.parse(r)["date"] for r in config.outputs})
        podcasts = ctx.read("podcasts")
        wh.replace_partition("podcasts", podcasts, {})
        for d in days:
            df = ctx.read(VALIDATED.format(date=d)).assign(load_date=d)
            wh.replace_partition("validated_reviews", df, {"load_date": d})
        error = self._dbt(ctx, "stg_reviews categorized_reviews", days)
        if error:
            raise RuntimeError(error)
        rows = wh.query("select * from {schema}.categorized_reviews where review_date between "
                        "cast(:a as date) and cast(:b as date)", {"a": days[0], "b": days[-1]})
        rows["review_date"] = pd.to_datetime(rows["review_date"]).dt.strftime("%Y-%m-%d")
        meta = self._tests_meta()
        for ref in sorted(config.outputs):
            v = CATEGORIZED.parse(ref)
            part = rows[(rows.category == v["category"]) & (rows.review_date == v["date"])]
            ctx.write(ref, part.sort_values("review_id").reset_index(drop=True), meta)


class DbtSummary(_DbtJob):
    """Review count and average rating per category and day (dbt: daily_category_summary)."""

    label, outputs, code_version = "dbt_summary", [SUMMARY], "1"

    def configure(self, refs):
        days = [SUMMARY.parse(r)["date"] for r in refs]
        return [JobConfig(outputs=[SUMMARY.format(date=d) for d in run], inputs=materialize(
            *[CATEGORIZED.format(category=c, date=d) for d in run for c in CATEGORIES]),
            args=[run[0], run[-1]]) for run in contiguous_dates(days)]

    def inputs_of(self, config, output):
        day = SUMMARY.parse(output)["date"]
        return {CATEGORIZED.format(category=c, date=day) for c in CATEGORIES}

    def run(self, config, ctx):
        import pandas as pd  # here, not at import: loading the graph stays cheap

        from resources.warehouse import Warehouse

        wh = Warehouse(self.env.target)
        days = sorted(SUMMARY.parse(r)["date"] for r in config.outputs)
        for ref in config.materialize_inputs:
            v = CATEGORIZED.parse(ref)
            df = ctx.read(ref)
            if len(df):
                df = df.assign(review_date=pd.to_datetime(df.review_date).dt.date)
            wh.replace_partition("categorized_reviews", df,
                                 {"review_date": v["date"], "category": v["category"]})
        error = self._dbt(ctx, "daily_category_summary", days)
        if error:
            raise RuntimeError(error)
        rows = wh.query("select * from {schema}.daily_category_summary where review_date between "
                        "cast(:a as date) and cast(:b as date) order by category",
                        {"a": days[0], "b": days[-1]})
        rows["review_date"] = pd.to_datetime(rows["review_date"]).dt.strftime("%Y-%m-%d")
        for ref in sorted(config.outputs):
            day = SUMMARY.parse(ref)["date"]
            ctx.write(ref, rows[rows.review_date == day].reset_index(drop=True),
                      self._tests_meta())
