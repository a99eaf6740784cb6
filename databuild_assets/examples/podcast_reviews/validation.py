"""Data-quality rules for landed reviews: split a batch into clean records and dead letters.

Bad upstream records must neither stop the pipeline nor leak into the models, and they must
not vanish either: each one is kept verbatim (as JSON text) with the rule it broke and where it
came from, so it can be inspected and replayed after a fix. The rules are exactly the defects
the sample-data generator injects, and the reason codes are the ones in its truth file.

Rules are checked in a fixed order and the first failure wins, so every dead letter has exactly
one reason. The function is pure: the same input always gives the same split.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from numbers import Integral, Real

import numpy as np
import pandas as pd

from .sample_data import MAX_CONTENT_CHARS

REVIEW_FIELDS = ["review_id", "podcast_id", "author_id", "rating", "title", "content",
                 "created_at"]
# In checking order; the first rule a record breaks is its reason.
REASONS = ["null_review_id", "null_podcast_id", "invalid_rating", "bad_timestamp",
           "oversize_content", "unknown_podcast", "duplicate"]
DEAD_LETTER_COLUMNS = ["review_id", "reason", "source_ref", "line", "raw"]
LINE_COLUMN = "_line"  # optional input column with the record's line in its landing file


def _missing(value) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _rating(value) -> int | None:
    """The rating as an int when it is a whole number in 1..5 (pandas may hand us 5.0)."""
    if isinstance(value, bool) or _missing(value):
        return None
    if isinstance(value, Integral):
        r = int(value)
    elif isinstance(value, Real) and float(value).is_integer():
        r = int(value)
    else:
        return None
    return r if 1 <= r <= 5 else None


def _timestamp(value) -> dt.datetime | None:
    """Parse an ISO-8601 timestamp strictly; the result is naive UTC."""
    if isinstance(value, pd.Timestamp | dt.datetime):
        ts = pd.Timestamp(value)
        if ts is pd.NaT:
            return None
        return (ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts).to_pydatetime()
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
    return parsed


def _jsonable(value):
    if isinstance(value, np.generic):
        value = value.item()
    if _missing(value) and not isinstance(value, str):
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.isoformat()
    return value


def raw_json(record: dict) -> str:
    """A record as JSON text, the form a dead letter keeps so it can be replayed verbatim."""
    body = {k: _jsonable(v) for k, v in record.items() if k != LINE_COLUMN}
    return json.dumps(body, ensure_ascii=True, default=str)


def check(record: dict, podcast_ids: set[str], seen_ids: set[str]) -> tuple[str | None, dict]:
    """The reason ``record`` is bad (or None) and, when good, its typed form."""
    if _missing(record.get("review_id")):
        return "null_review_id", {}
    if _missing(record.get("podcast_id")):
        return "null_podcast_id", {}
    rating = _rating(record.get("rating"))
    if rating is None:
        return "invalid_rating", {}
    created = _timestamp(record.get("created_at"))
    if created is None:
        return "bad_timestamp", {}
    content = record.get("content")
    content = "" if _missing(content) and not isinstance(content, str) else str(content)
    if len(content) > MAX_CONTENT_CHARS:
        return "oversize_content", {}
    podcast_id = str(record["podcast_id"])
    if podcast_id not in podcast_ids:
        return "unknown_podcast", {}
    review_id = str(record["review_id"])
    if review_id in seen_ids:  # the first occurrence is kept, later copies are bad
        return "duplicate", {}
    author = record.get("author_id")
    title = record.get("title")
    return None, {"review_id": review_id, "podcast_id": podcast_id,
                  "author_id": None if _missing(author) else str(author), "rating": rating,
                  "title": "" if _missing(title) else str(title), "content": content,
                  "created_at": created}


def validate(records: pd.DataFrame, podcast_ids: set[str],
             source_ref: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split one partition's records into (clean, dead_letters).

    ``records`` is in landing-file order; a ``_line`` column, when present, gives each record's
    line number, otherwise line = position + 1. Clean records have the columns of
    ``REVIEW_FIELDS`` with rating as int64 and created_at as naive-UTC datetime64. Dead letters
    have ``DEAD_LETTER_COLUMNS``: the raw record as JSON text, its reason, ``source_ref`` (the
    partition it came from) and its line.
    """
    has_line = LINE_COLUMN in records.columns
    rows = records.astype(object).where(records.notna(), None).to_dict("records")
    clean: list[dict] = []
    dead: list[dict] = []
    seen: set[str] = set()
    for pos, rec in enumerate(rows):
        reason, typed = check(rec, podcast_ids, seen)
        if reason is None:
            seen.add(typed["review_id"])
            clean.append(typed)
            continue
        rid = rec.get("review_id")
        dead.append({"review_id": None if _missing(rid) else str(rid), "reason": reason,
                     "source_ref": source_ref,
                     "line": int(rec[LINE_COLUMN]) if has_line else pos + 1,
                     "raw": raw_json(rec)})
    clean_df = pd.DataFrame(clean, columns=REVIEW_FIELDS).astype(
        {"review_id": "string", "podcast_id": "string", "author_id": "string",
         "rating": "int64", "title": "string", "content": "string",
         "created_at": "datetime64[ns]"})
    dead_df = pd.DataFrame(dead, columns=DEAD_LETTER_COLUMNS).astype(
        {"review_id": "string", "reason": "string", "source_ref": "string", "line": "int64",
         "raw": "string"})
    return clean_df, dead_df


def dlq_counts(dead_letters: pd.DataFrame) -> dict[str, int]:
    """Dead letters per reason: every known reason (zero included, so a report shows what was
    checked), in checking order, then any other reason found."""
    counts = dead_letters["reason"].value_counts() if len(dead_letters) else pd.Series(dtype=int)
    out = {r: int(counts.get(r, 0)) for r in REASONS}
    out.update({str(r): int(c) for r, c in counts.items() if r not in out})
    return out
