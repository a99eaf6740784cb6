"""The daily podcast report: one self-contained HTML page with inline SVG charts.

The report is an artifact people open from disk, mail or archive, so it carries everything
inline (no scripts, stylesheets, fonts or images fetched from anywhere). Charts are drawn with
matplotlib's Agg/SVG machinery on private ``Figure`` objects (no pyplot global state, safe in
worker threads), with a fixed hash salt and no date metadata so the same inputs render the
same bytes: a rebuilt report that did not change is identical.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import re

import pandas as pd
from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
TOTAL_LABELS = {"reviews": "Reviews", "categories": "Categories", "bad_records": "Bad records",
                "podcasts": "Podcasts", "days": "Days"}
_SVG_RC = {"svg.hashsalt": "databuild", "svg.fonttype": "none", "font.size": 9}
_STYLE = """body{font-family:system-ui,sans-serif;margin:2em auto;max-width:980px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .8em}
th{background:#f3f3f3;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.chart svg{max-width:100%;height:auto}"""


def _svg(fig: Figure) -> str:
    """The figure as an inline <svg> element, stripped of XML prolog, metadata and URLs."""
    FigureCanvasAgg(fig)
    buf = io.StringIO()
    with rc_context(_SVG_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None,
                                                  "Format": None, "Type": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>\s*", "", text, flags=re.S)
    # Inline SVG in HTML5 needs no namespace declarations; dropping them leaves no URL at all.
    text = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", text)
    return text.strip()


def _new_figure() -> Figure:
    with rc_context(_SVG_RC):
        return Figure(figsize=(8.5, 3.6), layout="constrained")


def _no_data(ax, title: str) -> None:
    ax.set_title(title)
    ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()


def rating_chart(trailing: pd.DataFrame) -> str:
    """Average rating per category and day over the trailing window, one line per category."""
    title = "Average rating by category, trailing window"
    with rc_context(_SVG_RC):
        fig = _new_figure()
        ax = fig.add_subplot()
        if trailing.empty:
            _no_data(ax, title)
            return _svg(fig)
        data = trailing.assign(date=pd.to_datetime(trailing["date"]).dt.strftime("%Y-%m-%d"))
        days = sorted(data["date"].unique())
        for category, group in sorted(data.groupby("category"), key=lambda t: str(t[0])):
            group = group.sort_values("date")
            xs = [days.index(d) for d in group["date"]]
            ax.plot(xs, group["avg_rating"], marker="o", markersize=3, label=str(category))
        ax.set_xticks(range(len(days)), [d[5:] for d in days])
        ax.set_ylim(1, 5.05)
        ax.set_ylabel("average rating")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False)
        return _svg(fig)


def _weekday_index(value) -> int:
    if isinstance(value, str) and not value.isdigit():
        return [w.lower() for w in WEEKDAYS].index(value[:3].lower())
    return int(value)


def weekday_totals(weekday_volume: pd.DataFrame) -> list[float]:
    """Reviews per weekday Mon..Sun.

    Accepts either ``weekday`` (0=Mon or a name) with ``n_reviews`` (already per weekday: rows
    are summed) or ``date`` with ``n_reviews`` (per day: the average day of each weekday, so a
    window holding three Mondays and two Sundays is not skewed).
    """
    out = [0.0] * 7
    if weekday_volume.empty:
        return out
    if "weekday" in weekday_volume.columns:
        for wd, n in zip(weekday_volume["weekday"], weekday_volume["n_reviews"], strict=True):
            out[_weekday_index(wd)] += float(n)
        return out
    dates = pd.to_datetime(weekday_volume["date"])
    means = weekday_volume.groupby(dates.dt.weekday)["n_reviews"].mean()
    for wd, n in means.items():
        out[int(wd)] = float(n)
    return out


def volume_chart(weekday_volume: pd.DataFrame) -> str:
    """Review volume by weekday as bars."""
    title = "Review volume by weekday"
    with rc_context(_SVG_RC):
        fig = _new_figure()
        ax = fig.add_subplot()
        if weekday_volume.empty:
            _no_data(ax, title)
            return _svg(fig)
        values = weekday_totals(weekday_volume)
        bars = ax.bar(WEEKDAYS, values, color="#4c78a8")
        ax.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=8)
        per_day = "date" in weekday_volume.columns and "weekday" not in weekday_volume.columns
        ax.set_ylabel("reviews per day (mean)" if per_day else "reviews")
        ax.set_title(title)
        ax.grid(axis="y", alpha=0.3)
        return _svg(fig)


def _table(headers: tuple[str, str], rows: list[tuple[str, object]]) -> str:
    def cell(v) -> str:
        if isinstance(v, int | float) and not isinstance(v, bool):
            return f'<td class="n">{v:,}</td>'
        return f"<td>{html.escape(str(v))}</td>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(f"<tr><td>{html.escape(str(k))}</td>{cell(v)}</tr>" for k, v in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def render_report(day: str, trailing: pd.DataFrame, weekday_volume: pd.DataFrame,
                  dlq: dict[str, int], totals: dict) -> str:
    """The report for ``day`` as a complete HTML document.

    ``trailing`` has columns category, date, avg_rating, n_reviews (the 7-day window ending on
    ``day``); ``weekday_volume`` is described in ``weekday_totals``; ``dlq`` maps reason to
    dead-letter count; ``totals`` is shown as given (keys reviews, categories, bad_records get
    friendly labels, other keys are shown verbatim).
    """
    dt.date.fromisoformat(day)  # a report is always for one real day
    total_rows = [(TOTAL_LABELS.get(k, k), v) for k, v in totals.items()]
    dlq_rows = [(k, int(v)) for k, v in dlq.items()]
    dlq_rows.append(("total", sum(v for _, v in dlq_rows)))
    window = ""
    if not trailing.empty:
        ds = pd.to_datetime(trailing["date"])
        window = f" ({ds.min():%Y-%m-%d} to {ds.max():%Y-%m-%d})"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>Podcast reviews report {html.escape(day)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Podcast reviews report: {html.escape(day)}</h1>",
        "<h2>Totals</h2>",
        _table(("measure", "value"), total_rows),
        f"<h2>Ratings by category{html.escape(window)}</h2>",
        f'<div class="chart">{rating_chart(trailing)}</div>',
        "<h2>Volume by weekday</h2>",
        f'<div class="chart">{volume_chart(weekday_volume)}</div>',
        "<h2>Dead letters by reason</h2>",
        _table(("reason", "records"), dlq_rows),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"
