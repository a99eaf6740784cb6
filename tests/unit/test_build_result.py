"""One result type for builds in process and through Dagster: the CLI's summary line and its
--json document read the same keys whichever way the plan ran."""

from databuild_assets.core import BuildResult
from databuild_assets.core.planner import JobGraph


def _plan():
    return JobGraph(requested=["a/date=2024-01-01", "a/date=2024-01-02"])


def test_a_build_through_dagster_and_one_in_process_report_the_same_summary_keys():
    in_process = BuildResult("b1", _plan(), built=["a/date=2024-01-01"], jobs_run=1)
    via_dagster = BuildResult("b2", _plan(), built=["a/date=2024-01-01"], jobs_run=1,
                              runs=[{"run_id": "r", "job": "a", "refs": 1, "status": "SUCCESS"}])
    assert in_process.summary().keys() == via_dagster.summary().keys()
    assert in_process.summary()["dagster_runs"] == 0 and via_dagster.summary()["dagster_runs"] == 1
    assert in_process.summary()["partitions_built"] == via_dagster.summary()["built"] == 1


def test_a_dagster_run_that_failed_fails_the_build_even_with_no_partition_named():
    result = BuildResult("b", _plan(), runs=[{"run_id": "r", "job": "a", "refs": 1,
                                             "status": "FAILURE"}])
    assert not result.ok and not result.summary()["ok"]


def test_cached_partitions_are_not_counted_as_built():
    result = BuildResult("b", _plan(), cached=["a/date=2024-01-02"], built=["a/date=2024-01-01"])
    assert (result.summary()["built"], result.summary()["cached"]) == (1, 1)
