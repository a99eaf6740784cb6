"""The podcast sample data: deterministic, realistically shaped, with known bad records."""

import datetime as dt
import json
from collections import Counter
from pathlib import Path

import pytest

from databuild_assets.examples.podcast_reviews import sample_data as sd


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("landing")
    return out, sd.generate(out)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _all_records(out: Path, summary: dict) -> list[dict]:
    return [r for day in summary["days"] for r in sd.read_jsonl(sd.day_path(out, day))]


def test_the_same_seed_regenerates_byte_identical_files(landing, tmp_path):
    out, summary = landing
    assert sd.generate(tmp_path) == summary
    assert _files(tmp_path) == _files(out)


def test_a_different_seed_gives_different_reviews(landing, tmp_path):
    out, _ = landing
    sd.generate(tmp_path, seed=8)
    day = sd.day_path(tmp_path, "2024-01-14")
    assert day.read_bytes() != sd.day_path(out, "2024-01-14").read_bytes()


def test_it_writes_a_catalog_and_one_landing_file_per_day(landing):
    out, summary = landing
    assert summary["days"] == [f"2024-01-{d:02d}" for d in range(1, 15)]
    for day in summary["days"]:
        assert sd.day_path(out, day).exists()
    catalog = sd.read_jsonl(out / "podcasts.jsonl")
    assert len(catalog) == 300 and {c["category"] for c in catalog} == set(sd.CATEGORIES)
    assert all(c.isascii() and c.replace("_", "").isalpha() and c.islower() for c in sd.CATEGORIES)
    assert all(150 <= len(sd.read_jsonl(sd.day_path(out, d))) <= 420 for d in summary["days"])


def test_ratings_skew_toward_five(landing):
    ratings = Counter(r["rating"] for r in _all_records(*landing) if r["rating"] in range(1, 6))
    assert ratings.most_common(1)[0][0] == 5
    assert ratings[5] > ratings[4] > ratings[3] and ratings[5] / sum(ratings.values()) > 0.45


def test_daily_volume_shows_weekday_seasonality(landing):
    out, summary = landing
    by_weekday = Counter()
    for day in summary["days"]:
        by_weekday[dt.date.fromisoformat(day).weekday()] += len(sd.read_jsonl(sd.day_path(out, day)))
    assert min(by_weekday[0], by_weekday[1]) > max(by_weekday[5], by_weekday[6])


def test_repeat_reviewers_and_a_long_tail_of_podcasts_exist(landing):
    records = _all_records(*landing)
    per_author = Counter(r["author_id"] for r in records)
    assert max(per_author.values()) >= 20 and sum(n > 1 for n in per_author.values()) > 100
    per_podcast = Counter(r["podcast_id"] for r in records).most_common()
    top_tenth = sum(n for _, n in per_podcast[:30])
    assert top_tenth > 0.4 * len(records)  # the top 10% of podcasts get most attention


def test_review_lengths_vary_log_normally_and_carry_category_phrases(landing):
    records = [r for r in _all_records(*landing) if len(r["content"] or "") <= sd.MAX_CONTENT_CHARS]
    words = sorted(len(r["content"].split()) for r in records)
    median, p95 = words[len(words) // 2], words[int(len(words) * 0.95)]
    assert 15 <= median <= 45 and p95 > 2.5 * median
    assert sum("laugh out loud" in r["content"] for r in records) > 10


def test_parseable_timestamps_fall_within_their_day(landing):
    out, summary = landing
    for day in summary["days"]:
        for r in sd.read_jsonl(sd.day_path(out, day)):
            try:
                created = dt.datetime.fromisoformat(r["created_at"])
            except ValueError:
                continue
            assert created.date().isoformat() == day


def test_about_one_percent_of_records_are_bad_and_every_kind_is_present(landing):
    out, summary = landing
    truth = sd.read_jsonl(out / "_truth" / "bad_records.jsonl")
    assert len(truth) == summary["bad"]
    assert 0.007 <= len(truth) / summary["records"] <= 0.013
    assert set(Counter(t["reason"] for t in truth)) == set(sd.BAD_KINDS)
    assert summary["bad_by_reason"] == {k: sum(t["reason"] == k for t in truth) for k in sd.BAD_KINDS}


def test_the_truth_file_points_at_the_bad_records_by_line(landing):
    out, _ = landing
    catalog = {c["podcast_id"] for c in sd.read_jsonl(out / "podcasts.jsonl")}
    for t in sd.read_jsonl(out / "_truth" / "bad_records.jsonl"):
        rows = sd.read_jsonl(sd.day_path(out, t["date"]))
        rec = rows[t["line"] - 1]
        assert rec["review_id"] == t["review_id"]
        reason = t["reason"]
        if reason == "null_review_id":
            assert rec["review_id"] is None
        elif reason == "null_podcast_id":
            assert rec["podcast_id"] is None
        elif reason == "invalid_rating":
            assert rec["rating"] in (0, 6, 11)
        elif reason == "bad_timestamp":
            with pytest.raises(ValueError):
                dt.datetime.fromisoformat(rec["created_at"])
        elif reason == "oversize_content":
            assert len(rec["content"]) > sd.MAX_CONTENT_CHARS
        elif reason == "unknown_podcast":
            assert rec["podcast_id"] not in catalog
        elif reason == "duplicate":
            assert rec in rows[: t["line"] - 1]  # an exact copy of an earlier record


def test_regenerating_a_day_without_a_change_is_byte_identical(landing, tmp_path):
    out, _ = landing
    sd.generate(tmp_path)
    before = _files(tmp_path)
    assert sd.regenerate_day(tmp_path, "2024-01-10", change_review=False) is None
    assert _files(tmp_path) == before == _files(out)


def test_regenerating_a_day_with_a_change_alters_exactly_one_review_of_that_day(tmp_path):
    sd.generate(tmp_path)
    before = _files(tmp_path)
    changed = sd.regenerate_day(tmp_path, "2024-01-10", change_review=True)
    after = _files(tmp_path)
    day = str(sd.day_path(tmp_path, "2024-01-10").relative_to(tmp_path))
    assert {k for k in after if after[k] != before[k]} == {day}
    old, new = before[day].decode().splitlines(), after[day].decode().splitlines()
    diff = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert len(diff) == 1 and json.loads(diff[0][1])["review_id"] == changed
    truth = sd.read_jsonl(tmp_path / "_truth" / "bad_records.jsonl")
    assert changed not in {t["review_id"] for t in truth}
