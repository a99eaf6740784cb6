"""Validation of landed reviews: exactly the injected bad records become dead letters."""

import json

import pandas as pd
import pytest

from databuild_assets.examples.podcast_reviews import sample_data as sd
from databuild_assets.examples.podcast_reviews.validation import (
    DEAD_LETTER_COLUMNS,
    REASONS,
    REVIEW_FIELDS,
    dlq_counts,
    validate,
)

GOOD = {"review_id": "r1", "podcast_id": "p00001", "author_id": "u1", "rating": 5, "title": "t",
        "content": "so funny", "created_at": "2024-01-02T03:04:05Z"}
PODCASTS = {"p00001", "p00002"}


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    out = tmp_path_factory.mktemp("landing")
    summary = sd.generate(out)
    catalog = {c["podcast_id"] for c in sd.read_jsonl(out / "podcasts.jsonl")}
    return out, summary, catalog


def _frame(*records: dict) -> pd.DataFrame:
    return pd.DataFrame(list(records))


def test_the_reason_codes_are_the_generators_bad_kinds():
    assert set(REASONS) == set(sd.BAD_KINDS)


def test_validate_dead_letters_exactly_the_truth_files_bad_records(landing):
    out, summary, catalog = landing
    found, n_clean = [], 0
    for day in summary["days"]:
        ref = f"reviews/date={day}"
        clean, dead = validate(pd.DataFrame(sd.read_jsonl(sd.day_path(out, day))), catalog, ref)
        assert (dead["source_ref"] == ref).all()
        found += [{"date": day, "review_id": None if pd.isna(r.review_id) else r.review_id,
                   "line": int(r.line), "reason": r.reason} for r in dead.itertuples()]
        n_clean += len(clean)
        assert clean["review_id"].is_unique
    truth = sd.read_jsonl(out / "_truth" / "bad_records.jsonl")
    key = lambda t: (t["date"], t["line"])  # noqa: E731
    assert sorted(found, key=key) == sorted(truth, key=key)
    assert n_clean == summary["reviews"]


def test_validate_also_works_on_frames_read_by_pandas_read_json(landing):
    out, summary, catalog = landing
    day = summary["days"][0]
    frame = pd.read_json(sd.day_path(out, day), lines=True, dtype=False)
    _, dead = validate(frame, catalog, "x")
    truth = [t for t in sd.read_jsonl(out / "_truth" / "bad_records.jsonl") if t["date"] == day]
    assert sorted(zip(dead["line"], dead["reason"], strict=True)) == sorted(
        (t["line"], t["reason"]) for t in truth)


def test_clean_records_get_typed_columns():
    clean, dead = validate(_frame(GOOD, {**GOOD, "review_id": "r2", "rating": 3.0}), PODCASTS, "s")
    assert dead.empty and list(clean.columns) == REVIEW_FIELDS
    assert str(clean["rating"].dtype) == "int64" and clean["rating"].tolist() == [5, 3]
    assert str(clean["created_at"].dtype) == "datetime64[ns]"
    assert clean["created_at"][0] == pd.Timestamp("2024-01-02 03:04:05")


@pytest.mark.parametrize("change, reason", [
    ({"review_id": None}, "null_review_id"),
    ({"review_id": ""}, "null_review_id"),
    ({"podcast_id": None}, "null_podcast_id"),
    ({"rating": 0}, "invalid_rating"),
    ({"rating": 6}, "invalid_rating"),
    ({"rating": 11}, "invalid_rating"),
    ({"rating": "five"}, "invalid_rating"),
    ({"rating": 4.5}, "invalid_rating"),
    ({"created_at": "not-a-timestamp"}, "bad_timestamp"),
    ({"created_at": "2024-13-45T99:61:00Z"}, "bad_timestamp"),
    ({"content": "x" * 10_001}, "oversize_content"),
    ({"podcast_id": "p99999"}, "unknown_podcast"),
])
def test_each_rule_dead_letters_a_record_with_its_reason(change, reason):
    bad = {**GOOD, "review_id": "r2", **change}
    clean, dead = validate(_frame(GOOD, bad), PODCASTS, "reviews/date=2024-01-02")
    assert clean["review_id"].tolist() == ["r1"]
    assert dead["reason"].tolist() == [reason] and dead["line"].tolist() == [2]


def test_content_of_exactly_ten_thousand_characters_is_allowed():
    clean, dead = validate(_frame({**GOOD, "content": "x" * 10_000}), PODCASTS, "s")
    assert len(clean) == 1 and dead.empty


def test_a_later_copy_is_the_duplicate_and_the_first_occurrence_stays_clean():
    clean, dead = validate(_frame(GOOD, {**GOOD, "review_id": "r2"}, GOOD), PODCASTS, "s")
    assert clean["review_id"].tolist() == ["r1", "r2"]
    assert dead[["reason", "line"]].values.tolist() == [["duplicate", 3]]


def test_dead_letters_keep_the_raw_record_as_json_and_where_it_came_from():
    bad = {**GOOD, "rating": 11}
    _, dead = validate(_frame(bad), PODCASTS, "reviews/date=2024-01-02")
    assert list(dead.columns) == DEAD_LETTER_COLUMNS
    row = dead.iloc[0]
    assert json.loads(row["raw"]) == bad
    assert (row["source_ref"], row["line"], row["review_id"]) == ("reviews/date=2024-01-02", 1, "r1")


def test_a_line_column_overrides_positions_and_is_not_part_of_the_raw_record():
    _, dead = validate(_frame({**GOOD, "rating": 0, "_line": 42}), PODCASTS, "s")
    assert dead["line"].tolist() == [42] and "_line" not in json.loads(dead["raw"][0])


def test_an_empty_batch_gives_empty_frames_with_the_right_columns():
    clean, dead = validate(pd.DataFrame(columns=REVIEW_FIELDS), PODCASTS, "s")
    assert clean.empty and dead.empty
    assert list(clean.columns) == REVIEW_FIELDS and list(dead.columns) == DEAD_LETTER_COLUMNS
    assert dlq_counts(dead) == dict.fromkeys(REASONS, 0)


def test_validation_is_deterministic(landing):
    out, summary, catalog = landing
    frame = pd.DataFrame(sd.read_jsonl(sd.day_path(out, summary["days"][3])))
    a, b = validate(frame, catalog, "s"), validate(frame, catalog, "s")
    pd.testing.assert_frame_equal(a[0], b[0])
    pd.testing.assert_frame_equal(a[1], b[1])


def test_dlq_counts_count_every_reason_in_checking_order(landing):
    out, summary, catalog = landing
    dead = pd.concat([validate(pd.DataFrame(sd.read_jsonl(sd.day_path(out, d))), catalog, d)[1]
                      for d in summary["days"]])
    counts = dlq_counts(dead)
    assert list(counts) == REASONS
    assert counts == {k: summary["bad_by_reason"][k] for k in REASONS}
