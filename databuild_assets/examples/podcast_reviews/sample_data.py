"""Deterministic sample data for the podcast-reviews platform.

An upstream system drops one JSON-lines file of reviews per day; this module imitates it so the
platform can be demonstrated and tested without network access. The shapes are realistic enough
for the downstream jobs to be meaningful (a long tail of podcasts, ratings skewed toward 5,
log-normal review lengths, weekday seasonality, repeat reviewers, category-flavoured phrases),
and about 1% of the records are deliberately bad. Every injected bad record is listed in
``_truth/bad_records.jsonl`` so tests can check the validation job against ground truth.

Each day is generated from its own random stream (seed + date), so one day can be regenerated,
or changed, without touching any other day: the basis of the "edit one landing file" test.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy is imported by the generator only: the graph needs the names below
    import numpy as np

CATEGORIES = ["arts", "business", "comedy", "education", "health_fitness",
              "history", "news", "science", "sports", "true_crime"]

# Reason codes shared with validation.py (the truth file uses exactly these).
BAD_KINDS = ["null_review_id", "null_podcast_id", "invalid_rating", "bad_timestamp",
             "duplicate", "oversize_content", "unknown_podcast"]
MAX_CONTENT_CHARS = 10_000

# Mon..Sun multipliers of the daily volume: people review on Monday's commute.
WEEKDAY_FACTOR = [1.35, 1.25, 1.05, 1.0, 0.9, 0.7, 0.75]
BASE_DAILY_REVIEWS = 260
N_AUTHORS = 4000
RATING_BASE = (0.06, 0.05, 0.09, 0.20, 0.60)

COMMON = ("the this show episode host hosts guest really always every week listen listening "
          "just like one more time new favourite story stories voice great good and but with "
          "about for from it is was so very").split()
POSITIVE = "love amazing brilliant fantastic wonderful engaging recommend addictive best".split()
NEGATIVE = "boring annoying repetitive disappointing ads too long unfortunately worst".split()
PHRASES = {
    "arts": ["creative process", "art world", "behind the canvas", "museum tour"],
    "business": ["startup advice", "market trends", "leadership lessons", "side hustle"],
    "comedy": ["laugh out loud", "so funny", "great banter", "comedy gold"],
    "education": ["learned so much", "clear explanations", "study tips", "lifelong learning"],
    "health_fitness": ["workout routine", "mental health", "healthy habits", "sleep tips"],
    "history": ["ancient rome", "world war", "primary sources", "forgotten history"],
    "news": ["daily briefing", "breaking news", "balanced coverage", "current events"],
    "science": ["mind blowing", "black holes", "peer reviewed", "climate science"],
    "sports": ["fantasy football", "match analysis", "trade rumors", "game day"],
    "true_crime": ["cold case", "the detective", "unsolved mystery", "the verdict"],
}
TITLE_WORDS = ("daily weekly inside deep dive talk hour club lab files corner stories "
               "journal radio hub notes").split()
BAD_TIMESTAMPS = ["not-a-timestamp", "2024-13-45T99:61:00Z", "yesterday", "31/12/2023 25:00"]
BAD_RATINGS = [0, 6, 11]


def _catalog(seed: int, podcasts: int) -> tuple[list[dict], np.ndarray, np.ndarray]:
    """The podcast list, Zipf-like popularity weights and per-podcast rating tilt."""
    import numpy as np

    rng = np.random.default_rng([seed, 0])
    cats = rng.choice(len(CATEGORIES), size=podcasts)
    rows = []
    for i in range(podcasts):
        category = CATEGORIES[cats[i]]
        words = rng.choice(TITLE_WORDS, size=2, replace=False)
        topic = PHRASES[category][rng.integers(4)].split()[-1]
        rows.append({"podcast_id": f"p{i + 1:05d}",
                     "title": f"The {topic.title()} {words[0].title()} {words[1].title()}",
                     "category": category})
    popularity = 1.0 / np.arange(1, podcasts + 1) ** 1.1  # a long tail, shuffled over ids
    popularity = rng.permutation(popularity / popularity.sum())
    cat_tilt = rng.normal(0, 0.25, size=len(CATEGORIES))
    tilt = cat_tilt[cats] + rng.normal(0, 0.3, size=podcasts)
    return rows, popularity, tilt


def _text(rng: np.random.Generator, category: str, rating: int, n_words: int) -> str:
    """Words from a small vocabulary, with category phrases so phrase counts mean something."""
    mood = POSITIVE if rating >= 4 else NEGATIVE
    out: list[str] = []
    while len(out) < n_words:
        u = rng.random()
        if u < 0.15:
            out.extend(PHRASES[category][rng.integers(4)].split())
        elif u < 0.35:
            out.append(mood[rng.integers(len(mood))])
        else:
            out.append(COMMON[rng.integers(len(COMMON))])
    return " ".join(out[:n_words])


def _day_records(day: dt.date, seed: int, podcasts: int, bad_rate: float,
                 change_review: bool = False) -> tuple[list[dict], list[dict]]:
    """One day's landing records in file order, and its truth rows (the injected bad records)."""
    import numpy as np

    catalog, popularity, tilt = _catalog(seed, podcasts)
    rng = np.random.default_rng([seed, day.toordinal()])
    n = int(np.clip(rng.poisson(BASE_DAILY_REVIEWS * WEEKDAY_FACTOR[day.weekday()]), 150, 400))
    author_w = 1.0 / np.arange(1, N_AUTHORS + 1) ** 0.9
    authors = rng.choice(N_AUTHORS, size=n, p=author_w / author_w.sum())
    pods = rng.choice(podcasts, size=n, p=popularity)
    seconds = np.sort(rng.integers(0, 86_400, size=n))
    lengths = np.clip(rng.lognormal(np.log(28), 0.8, size=n), 3, 600).astype(int)
    start = dt.datetime(day.year, day.month, day.day)
    records = []
    for i in range(n):
        p = catalog[pods[i]]
        w = np.asarray(RATING_BASE) * np.exp(tilt[pods[i]] * (np.arange(1, 6) - 3))
        rating = int(rng.choice(5, p=w / w.sum())) + 1
        records.append({
            "review_id": f"r{day:%Y%m%d}-{i + 1:05d}",
            "podcast_id": p["podcast_id"],
            "author_id": f"u{authors[i] + 1:05d}",
            "rating": rating,
            "title": _text(rng, p["category"], rating, int(rng.integers(2, 6))).capitalize(),
            "content": _text(rng, p["category"], rating, int(lengths[i])),
            "created_at": (start + dt.timedelta(seconds=int(seconds[i]))).isoformat() + "Z",
        })

    # A fixed share (at least one a day when enabled): the rate stays near bad_rate every day.
    n_bad = max(1, round(n * bad_rate)) if bad_rate > 0 else 0
    # Rotate kinds by date so every kind shows up within a week of data.
    kinds = [BAD_KINDS[(day.toordinal() * 3 + j) % len(BAD_KINDS)] for j in range(n_bad)]
    victims = rng.choice(n, size=min(2 * n_bad + 1, n), replace=False)
    mutate, sources = victims[:n_bad], victims[n_bad:2 * n_bad]
    bad: dict[int, str] = {}  # id(record) -> reason
    copies: list[tuple[int, dict]] = []
    for j, kind in enumerate(kinds):
        rec = records[mutate[j]]
        if kind == "duplicate":
            src = int(sources[j])
            copy = dict(records[src])
            copies.append((int(rng.integers(src + 1, n + 1)), copy))
            bad[id(copy)] = kind
            continue
        bad[id(rec)] = kind
        if kind == "null_review_id":
            rec["review_id"] = None
        elif kind == "null_podcast_id":
            rec["podcast_id"] = None
        elif kind == "invalid_rating":
            rec["rating"] = BAD_RATINGS[rng.integers(len(BAD_RATINGS))]
        elif kind == "bad_timestamp":
            rec["created_at"] = BAD_TIMESTAMPS[rng.integers(len(BAD_TIMESTAMPS))]
        elif kind == "oversize_content":
            reps = MAX_CONTENT_CHARS // (len(rec["content"]) + 1) + 2
            rec["content"] = " ".join([rec["content"]] * reps)
        elif kind == "unknown_podcast":
            rec["podcast_id"] = f"p{podcasts + 1 + int(rng.integers(1, 90_000)):05d}"
    if change_review:  # the first record that is neither bad nor copied
        touched = set(int(s) for s in sources) | {i for i, r in enumerate(records) if id(r) in bad}
        k = next(i for i in range(n) if i not in touched)
        records[k]["rating"] = 1 if records[k]["rating"] != 1 else 5
        records[k]["content"] = "edited upstream: " + records[k]["content"]
    # Insert copies at positions after their source (stable order: later positions first).
    for pos, copy in sorted(copies, key=lambda t: -t[0]):
        records.insert(pos, copy)
    truth = [{"date": day.isoformat(), "review_id": r["review_id"], "line": line,
              "reason": bad[id(r)]}
             for line, r in enumerate(records, start=1) if id(r) in bad]
    return records, truth


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=True) + "\n")


def day_path(out_dir: Path, day: str) -> Path:
    """Where the landing file of ``day`` lives (the upstream system's layout)."""
    return Path(out_dir) / "reviews" / f"date={day}" / "reviews.jsonl"


def dates(end: str, days: int) -> list[str]:
    """The ``days`` ISO dates ending on ``end``, oldest first."""
    last = dt.date.fromisoformat(end)
    return [(last - dt.timedelta(days=k)).isoformat() for k in range(days - 1, -1, -1)]


def generate(out_dir: Path, *, end: str = "2024-01-14", days: int = 14, seed: int = 7,
             bad_rate: float = 0.01, podcasts: int = 300) -> dict:
    """Write the catalog, one landing file per day and the truth file; return a summary.

    The same arguments always produce byte-identical files. Parameters are recorded in
    ``_truth/params.json`` so ``regenerate_day`` reproduces a day without being told them.
    """
    out_dir = Path(out_dir)
    catalog, _, _ = _catalog(seed, podcasts)
    _write_jsonl(out_dir / "podcasts.jsonl", catalog)
    all_truth: list[dict] = []
    n_records = 0
    for day in dates(end, days):
        records, truth = _day_records(dt.date.fromisoformat(day), seed, podcasts, bad_rate)
        _write_jsonl(day_path(out_dir, day), records)
        all_truth.extend(truth)
        n_records += len(records)
    _write_jsonl(out_dir / "_truth" / "bad_records.jsonl", all_truth)
    params = {"end": end, "days": days, "seed": seed, "bad_rate": bad_rate, "podcasts": podcasts}
    (out_dir / "_truth" / "params.json").write_text(json.dumps(params, sort_keys=True) + "\n")
    bad_by_reason = {k: sum(t["reason"] == k for t in all_truth) for k in BAD_KINDS}
    return {"days": dates(end, days), "podcasts": podcasts, "records": n_records,
            "reviews": n_records - len(all_truth), "bad": len(all_truth),
            "bad_by_reason": bad_by_reason}


def regenerate_day(out_dir: Path, day: str, *, seed: int | None = None,
                   change_review: bool = False) -> str | None:
    """Rewrite one day's landing file, optionally with exactly one review changed.

    With ``change_review=False`` the file comes back byte-identical. With ``True`` one clean
    review (never a bad record or the source of a duplicate) gets a different rating and
    content, so the truth file stays valid; the changed review_id is returned.
    """
    out_dir = Path(out_dir)
    params = json.loads((out_dir / "_truth" / "params.json").read_text())
    seed = params["seed"] if seed is None else seed
    before, _ = _day_records(dt.date.fromisoformat(day), seed, params["podcasts"],
                             params["bad_rate"])
    records, _ = _day_records(dt.date.fromisoformat(day), seed, params["podcasts"],
                              params["bad_rate"], change_review=change_review)
    _write_jsonl(day_path(out_dir, day), records)
    changed = [a["review_id"] for a, b in zip(before, records, strict=True) if a != b]
    return changed[0] if changed else None


def read_jsonl(path: Path) -> list[dict]:
    """The records of a JSON-lines file, in file order (line number = index + 1)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
