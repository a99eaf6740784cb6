"""A small shop graph: daily orders, a validation job with two outputs, a QUERY dependency
on FX rates, a three-dimension dataset and a seven-day trailing window.

It is the demo until the podcast-reviews platform lands, and a compact tour of the API.
"""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd

from databuild_assets.core import (
    DateDim,
    Graph,
    Job,
    JobConfig,
    PartitionPattern,
    contiguous_dates,
    date_range,
    materialize,
    query,
    shift_date,
)

REGIONS = ["eu", "us", "apac"]
CHANNELS = ["web", "store"]
CURRENCIES = {"eu": "EUR", "us": "USD", "apac": "JPY"}

ORDERS = PartitionPattern("orders/date={date}", dims={"date": DateDim("date")})
FX = PartitionPattern("fx_rates/date={date}", dims={"date": "date"})
CLEAN = PartitionPattern("orders_clean/date={date}", dims={"date": "date"})
REJECTED = PartitionPattern("orders_rejected/date={date}", dims={"date": "date"})
REGION_SALES = PartitionPattern(
    "region_sales/region={region}/channel={channel}/date={date}",
    dims={"region": REGIONS, "channel": CHANNELS, "date": "date"},
)
TRAILING = PartitionPattern("trailing_revenue/date={date}", dims={"date": "date"})
CHANNEL_REVENUE = PartitionPattern("channel_revenue/channel={channel}/date={date}",
                                   dims={"channel": CHANNELS, "date": "date"})


def _rng(*parts: str) -> np.random.Generator:
    return np.random.default_rng(int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:8], 16))


class IngestOrders(Job):
    """Synthesizes the day's orders; contiguous days are ingested in one config."""

    label = "ingest_orders"
    outputs = [ORDERS]
    code_version = "1"
    description = "Daily orders from the (synthetic) order system."
    # A Dagster schedule (ingest_orders__schedule, stopped until turned on): at 01:00 UTC it
    # requests the day that just ended; the propagation sensor then builds what reads it.
    schedule = {"hour_of_day": 1}

    def configure(self, refs):
        dates = [ORDERS.parse(r)["date"] for r in refs]
        return [JobConfig(outputs=[ORDERS.format(date=d) for d in run], args=[run[0], run[-1]])
                for run in contiguous_dates(dates)]

    def run(self, config, ctx):
        for ref in sorted(config.outputs):
            day = ORDERS.parse(ref)["date"]
            rng = _rng("orders", day)
            n = int(rng.integers(80, 120))
            df = pd.DataFrame({
                "order_id": [f"{day}-{i:04d}" for i in range(n)],
                "region": rng.choice(REGIONS, n),
                "channel": rng.choice(CHANNELS, n, p=[0.7, 0.3]),
                "amount": np.round(rng.lognormal(3.5, 0.6, n), 2),
            })
            df.loc[rng.random(n) < 0.03, "amount"] = -1.0  # bad rows for validation
            ctx.write(ref, df)


class FetchFx(Job):
    label = "fetch_fx"
    outputs = [FX]
    description = "Daily FX rates to USD. Read by validation as a QUERY input."

    def configure(self, refs):
        return [JobConfig(outputs=[r]) for r in refs]

    def run(self, config, ctx):
        (ref,) = config.outputs
        rng = _rng("fx", FX.parse(ref)["date"])
        ctx.write(ref, pd.DataFrame({"currency": ["EUR", "USD", "JPY"],
                                     "usd": [1.08 + rng.normal(0, 0.01), 1.0,
                                             0.0068 + rng.normal(0, 0.0001)]}))


class ValidateOrders(Job):
    """Splits orders into clean and rejected; converts to USD when rates are available."""

    label = "validate_orders"
    outputs = [CLEAN, REJECTED]
    code_version = "1"

    def configure(self, refs):
        dates = sorted({(CLEAN if r.startswith("orders_clean/") else REJECTED).parse(r)["date"]
                        for r in refs})
        return [JobConfig(outputs=[CLEAN.format(date=d), REJECTED.format(date=d)],
                          inputs=materialize(ORDERS.format(date=d)) | query(FX.format(date=d)))
                for d in dates]

    def run(self, config, ctx):
        day = CLEAN.parse(min(o for o in config.outputs if o.startswith("orders_clean/")))["date"]
        orders = ctx.read(ORDERS.format(date=day))
        fx = ctx.read(FX.format(date=day))
        bad = orders["amount"] <= 0
        clean = orders[~bad].copy()
        if fx is not None:
            rates = dict(zip(fx["currency"], fx["usd"], strict=True))
            clean["amount_usd"] = clean["amount"] * clean["region"].map(CURRENCIES).map(rates)
        else:
            clean["amount_usd"] = np.nan
        rejected = orders[bad].assign(reason="non-positive amount")
        ctx.write(CLEAN.format(date=day), clean, {"rows_clean": len(clean)})
        ctx.write(REJECTED.format(date=day), rejected, {"rows_rejected": len(rejected)})


class RegionSales(Job):
    label = "region_sales"
    outputs = [REGION_SALES]

    def configure(self, refs):
        by_day: dict[str, list[str]] = {}
        for r in refs:
            by_day.setdefault(REGION_SALES.parse(r)["date"], []).append(r)
        return [JobConfig(outputs=rs, inputs=materialize(CLEAN.format(date=d)))
                for d, rs in sorted(by_day.items())]

    def run(self, config, ctx):
        (inp,) = [d.ref for d in config.inputs]
        clean = ctx.read(inp)
        for ref in sorted(config.outputs):
            v = REGION_SALES.parse(ref)
            part = clean[(clean.region == v["region"]) & (clean.channel == v["channel"])]
            ctx.write(ref, pd.DataFrame({"orders": [len(part)],
                                         "revenue": [round(float(part.amount.sum()), 2)]}))


class ChannelRevenue(Job):
    """Revenue per sales channel and day (a two-dimension dataset)."""

    label = "channel_revenue"
    outputs = [CHANNEL_REVENUE]

    def configure(self, refs):
        return [JobConfig(outputs=[r], inputs=materialize(CLEAN.format(
            date=CHANNEL_REVENUE.parse(r)["date"]))) for r in refs]

    def run(self, config, ctx):
        (ref,) = config.outputs
        v = CHANNEL_REVENUE.parse(ref)
        clean = ctx.read(CLEAN.format(date=v["date"]))
        part = clean[clean.channel == v["channel"]]
        ctx.write(ref, pd.DataFrame({"orders": [len(part)],
                                     "revenue": [round(float(part.amount.sum()), 2)]}))


class TrailingRevenue(Job):
    """Revenue over the seven days ending on the partition's date."""

    label = "trailing_revenue"
    outputs = [TRAILING]
    window = 7

    def configure(self, refs):
        out = []
        for r in refs:
            day = TRAILING.parse(r)["date"]
            days = date_range(shift_date(day, -(self.window - 1)), day)
            out.append(JobConfig(outputs=[r], inputs=materialize(*[CLEAN.format(date=d)
                                                                    for d in days])))
        return out

    def run(self, config, ctx):
        (ref,) = config.outputs
        frames = [ctx.read(i).assign(day=CLEAN.parse(i)["date"]) for i in config.materialize_inputs]
        daily = pd.concat(frames).groupby("day", as_index=False)["amount"].sum()
        ctx.write(ref, daily.assign(trailing_total=round(float(daily.amount.sum()), 2)))


JOBS = [IngestOrders(), FetchFx(), ValidateOrders(), RegionSales(), ChannelRevenue(),
        TrailingRevenue()]
graph = Graph(JOBS, name="shop")


def shop_refs(end: str = "2024-01-14", days: int = 14) -> list[str]:
    """What the small shop example builds (used by the Dagster UI test and docs)."""
    last = dt.date.fromisoformat(end)
    dates = [(last - dt.timedelta(days=i)).isoformat() for i in range(days - 1, -1, -1)]
    return ([f"fx_rates/date={d}" for d in dates] + [f"trailing_revenue/date={end}"]
            + [f"region_sales/region={r}/channel={c}/date={end}" for r in REGIONS
               for c in CHANNELS]
            + [f"channel_revenue/channel={c}/date={end}" for c in CHANNELS])
