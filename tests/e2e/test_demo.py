"""End to end: the README's main job (`make demo` = `databuild demo`) on a clean folder.

Ingest runs the real source-file connector through PyAirbyte, dbt runs on a DuckDB file.
Expected figures are recomputed here from the landing files and the generator's truth file,
independently of the platform's code."""

import collections
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from databuild_assets import settings
from databuild_assets.core import date_range
from databuild_assets.examples.podcast_reviews.graph import env_from_settings, make_graph
from databuild_assets.examples.podcast_reviews.sample_data import CATEGORIES, regenerate_day

REPO = Path(__file__).resolve().parents[2]
END, WINDOW = "2024-01-14", date_range("2024-01-01", "2024-01-14")  # volume + DLQ window


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABUILD_", "DAGSTER_"))}
    env.update(DATABUILD_HOME=str(root / "state"), DATABUILD_PROJECT_DIR=str(REPO),
               DATABUILD_AIRBYTE_HOME=str(REPO / ".databuild" / "airbyte"))  # connector cache
    cmd = [sys.executable, "-m", "databuild_assets.cli", "demo"]
    first = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=1200)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    second = subprocess.run(cmd, env=env, cwd=root, capture_output=True, text=True, timeout=300)
    return env, root / "state", first.stdout, second


def _truth(state: Path) -> list[dict]:
    lines = (state / "landing" / "_truth" / "bad_records.jsonl").read_text().splitlines()
    return [json.loads(x) for x in lines if x.strip()]


def _live_frames(graph, dataset):
    rows = [r for r in graph.catalog.partitions_of(dataset) if r.state == "live"]
    ms = graph.catalog.manifests(r.manifest_id for r in rows)
    return {m.ref: graph.store.read(m.path) for m in ms.values()}


def test_the_demo_builds_the_report_with_charts_and_independently_right_totals(demo):
    env, state, out, _second = demo
    assert "succeeded" in out and "partitions built 208" in out
    report = state / "reports" / f"podcast_report_{END}.html"
    assert f"report:   {report}" in out
    html = report.read_text()
    assert html.count("<svg") >= 2
    truth = _truth(state)
    landed = sum(len((state / "landing" / "reviews" / f"date={d}" / "reviews.jsonl")
                     .read_text().splitlines()) for d in WINDOW)
    bad_in_window = sum(1 for t in truth if t["date"] in WINDOW)
    assert f"{landed - bad_in_window:,}" in html  # valid reviews in the report's window
    assert f"{bad_in_window:,}" in html
    assert f">{len(CATEGORIES)}<" in html.replace(" ", "")


def test_the_dead_letters_hold_exactly_the_injected_bad_records(demo):
    env, state, _out, _second = demo
    conf = settings.load(env)
    graph = make_graph(env_from_settings(conf), conf.catalog_url, conf.data_root)
    frames = _live_frames(graph, "dead_letters")
    assert len(frames) == 14
    dead = pd.concat(frames.values(), ignore_index=True)
    got = collections.Counter(
        (r.source_ref.rsplit("=", 1)[1], json.loads(r.raw).get("review_id"), r.reason)
        for r in dead.itertuples())
    want = collections.Counter((t["date"], t["review_id"], t["reason"]) for t in _truth(state))
    assert got == want and sum(want.values()) > 0


def test_a_second_demo_run_is_a_null_build(demo):
    _env, _state, _out, second = demo
    assert second.returncode == 0
    assert "null build" in second.stdout and "partitions built 0" in second.stdout


def test_changing_one_landing_file_rebuilds_exactly_that_days_chain(demo):
    env, state, _out, _second = demo
    changed_id = regenerate_day(state / "landing", "2024-01-10", change_review=True)
    assert changed_id
    conf = settings.load(env)
    graph = make_graph(env_from_settings(conf), conf.catalog_url, conf.data_root)
    st = graph.status(["reviews/date=2024-01-10", f"podcast_report/date={END}"])
    assert "source of reviews/date=2024-01-10 changed" in st["reviews/date=2024-01-10"].reasons[0]
    assert st[f"podcast_report/date={END}"].state == "stale"
    result = graph.build([f"podcast_report/date={END}"])
    assert result.ok, result.failed
    built = {m.ref for m in result.manifests}
    review = next(json.loads(x) for x in (state / "landing" / "reviews" / "date=2024-01-10" /
                                           "reviews.jsonl").read_text().splitlines()
                  if json.loads(x).get("review_id") == changed_id)
    podcasts = {json.loads(x)["podcast_id"]: json.loads(x)["category"] for x in
                (state / "landing" / "podcasts.jsonl").read_text().splitlines()}
    category = podcasts[review["podcast_id"]]
    assert built == {
        "reviews/date=2024-01-10", "validated_reviews/date=2024-01-10",
        "dead_letters/date=2024-01-10", "daily_category_summary/date=2024-01-10",
        *[f"categorized_reviews/category={c}/date=2024-01-10" for c in CATEGORIES],
        f"trailing_ratings/category={category}/date={END}", f"podcast_report/date={END}"}
    assert graph.plan([f"podcast_report/date={END}"]).nodes == []


def test_dlq_list_and_replay_reprocess_dead_letters_without_duplicating_anything(demo):
    env, state, _out, _second = demo
    cli = [sys.executable, "-m", "databuild_assets.cli"]
    listed = subprocess.run(cli + ["dlq", "list", "--date", "2024-01-03"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "dead_letters" not in listed.stderr
    truth_day = [t for t in _truth(state) if t["date"] == "2024-01-03"]
    assert f"{len(truth_day)} dead letter(s)" in listed.stdout
    replay = subprocess.run(cli + ["dlq", "replay", "--date", "2024-01-03"], env=env,
                            capture_output=True, text=True, timeout=600)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "dead_letters/date=2024-01-03: unchanged" in replay.stdout
    conf = settings.load(env)
    graph = make_graph(env_from_settings(conf), conf.catalog_url, conf.data_root)
    dead = _live_frames(graph, "dead_letters")["dead_letters/date=2024-01-03"]
    assert len(dead) == len(truth_day)  # replaying twice never duplicates
    assert graph.status([f"podcast_report/date={END}"])[f"podcast_report/date={END}"].state == "live"
