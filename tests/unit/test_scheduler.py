"""The scheduler's pure decisions: which ready nodes start, in which order nodes run."""

import threading

import pytest

from databuild_assets.core.scheduler import run_dag, startable


def test_ready_nodes_start_in_plan_order_up_to_the_free_workers():
    assert startable([0, 1, 2, 3], {}, set(), 2) == [0, 1]


def test_a_node_whose_pool_is_busy_waits_and_a_later_free_node_starts_instead():
    pool = {0: "dbt:p:dev", 1: "dbt:p:dev", 2: None}
    assert startable([0, 1, 2], pool, set(), 3) == [0, 2]
    assert startable([1, 2], pool, {"dbt:p:dev"}, 3) == [2]


def test_with_one_worker_nodes_run_in_the_given_order_in_the_calling_thread():
    seen = []
    run_dag(["a", "b", "c"], {"c": ["a"]}, lambda k: seen.append(
        (k, threading.current_thread() is threading.main_thread())), 1)
    assert seen == [("a", True), ("b", True), ("c", True)]


def test_every_node_runs_once_and_after_its_predecessors():
    done, lock = [], threading.Lock()
    preds = {"c": ["a", "b"], "d": ["c"], "e": []}

    def run(k):
        with lock:
            assert all(p in done for p in preds.get(k, ())), (k, done)
            done.append(k)

    run_dag(["a", "b", "c", "d", "e"], preds, run, 3)
    assert sorted(done) == ["a", "b", "c", "d", "e"]


def test_an_error_stops_new_starts_and_is_raised_after_running_nodes_finish():
    ran = []

    def run(k):
        ran.append(k)
        if k == "a":
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_dag(["a", "b"], {"b": ["a"]}, run, 2)
    assert ran == ["a"]
