"""The podcast report: one self-contained HTML page with inline SVG charts and the numbers."""

import re

import pandas as pd
import pytest

from databuild_assets.examples.podcast_reviews.report import render_report, weekday_totals

DAYS = [f"2024-01-{d:02d}" for d in range(8, 15)]


@pytest.fixture
def inputs():
    trailing = pd.DataFrame([
        {"category": c, "date": d, "avg_rating": 3.5 + 0.1 * i + (0.5 if c == "comedy" else 0),
         "n_reviews": 20 + i}
        for c in ("comedy", "true_crime", "news") for i, d in enumerate(DAYS)])
    volume = pd.DataFrame({"date": [f"2024-01-{d:02d}" for d in range(1, 15)],
                           "n_reviews": [350, 320, 270, 260, 230, 180, 190] * 2})
    dlq = {"null_review_id": 6, "invalid_rating": 4, "duplicate": 5}
    totals = {"reviews": 3616, "categories": 10, "bad_records": 15}
    return trailing, volume, dlq, totals


def test_the_report_has_two_inline_svg_charts_and_the_totals(inputs):
    page = render_report("2024-01-14", *inputs)
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert page.count("<svg") >= 2
    assert "3,616" in page and "Bad records" in page and ">10<" in page and ">15<" in page
    assert "Podcast reviews report: 2024-01-14" in page


def test_the_report_lists_dlq_counts_by_reason_with_a_total(inputs):
    page = render_report("2024-01-14", *inputs)
    for reason, n in inputs[2].items():
        assert re.search(rf"<td>{reason}</td><td class=\"n\">{n}</td>", page)
    assert '<td>total</td><td class="n">15</td>' in page


def test_the_charts_show_categories_and_weekdays_as_text(inputs):
    page = render_report("2024-01-14", *inputs)
    for label in ("comedy", "true_crime", "news", "Mon", "Sun", "01-14"):
        assert label in page
    assert "2024-01-08 to 2024-01-14" in page


def test_the_report_is_self_contained_without_any_url(inputs):
    page = render_report("2024-01-14", *inputs)
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page


def test_the_same_inputs_render_the_same_bytes(inputs):
    assert render_report("2024-01-14", *inputs) == render_report("2024-01-14", *inputs)


def test_empty_inputs_still_render_a_page_with_both_charts():
    page = render_report("2024-01-14", pd.DataFrame(columns=["category", "date", "avg_rating",
                                                             "n_reviews"]),
                         pd.DataFrame(columns=["date", "n_reviews"]), {}, {"reviews": 0})
    assert page.count("<svg") == 2 and page.count("no data") == 2


def test_text_from_the_data_is_html_escaped(inputs):
    trailing, volume, _, totals = inputs
    page = render_report("2024-01-14", trailing, volume, {"<script>": 1}, totals)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_weekday_volume_averages_per_date_rows_and_sums_per_weekday_rows():
    per_date = pd.DataFrame({"date": ["2024-01-01", "2024-01-08", "2024-01-07"],
                             "n_reviews": [300, 100, 50]})
    assert weekday_totals(per_date) == [200.0, 0, 0, 0, 0, 0, 50.0]
    per_weekday = pd.DataFrame({"weekday": ["Mon", 6, "Monday"], "n_reviews": [1, 2, 3]})
    assert weekday_totals(per_weekday) == [4.0, 0, 0, 0, 0, 0, 2.0]


def test_a_report_is_for_a_real_day(inputs):
    with pytest.raises(ValueError):
        render_report("2024-02-30", *inputs)
