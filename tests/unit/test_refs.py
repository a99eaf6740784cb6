import pytest

from databuild_assets.core import DateDim, PartitionPattern, RefError, UnknownDatasetError
from databuild_assets.core.errors import DefinitionError
from databuild_assets.core.registry import Registry
from databuild_assets.refspec import expand

STATS = PartitionPattern("phrase_stats/category={category}/date={date}",
                         dims={"category": ["comedy", "news"], "date": "date"}, version="1.2.0")


def test_a_pattern_parses_and_formats_refs_with_any_number_of_dimensions():
    ref = "phrase_stats/category=comedy/date=2024-01-01"
    assert STATS.parse(ref) == {"category": "comedy", "date": "2024-01-01"}
    assert STATS.format(category="comedy", date="2024-01-01") == ref
    assert STATS.dataset == "phrase_stats" and STATS.version == "1.2.0" and STATS.major == 1
    four = PartitionPattern("x/a={a}/b={b}/c={c}/d={d}")
    assert four.parse("x/a=1/b=2/c=3/d=4") == {"a": "1", "b": "2", "c": "3", "d": "4"}


def test_typed_dimensions_reject_values_outside_their_type():
    assert STATS.matches("phrase_stats/category=news/date=2024-02-29")
    assert not STATS.matches("phrase_stats/category=sports/date=2024-01-01")
    assert not STATS.matches("phrase_stats/category=news/date=2024-02-30")
    with pytest.raises(RefError, match="one of comedy, news"):
        STATS.parse("phrase_stats/category=sports/date=2024-01-01")
    with pytest.raises(RefError, match="expects a date"):
        STATS.parse("phrase_stats/category=news/date=20240101")


@pytest.mark.parametrize("bad", ["a b", "..", "x..y", ".hidden", "semi;colon", "a\\b", "*"])
def test_values_unsafe_in_file_paths_are_refused(bad):
    p = PartitionPattern("t/k={k}")
    with pytest.raises(RefError, match="not allowed"):
        p.format(k=bad)
    assert not p.matches(f"t/k={bad}")


def test_a_slash_in_a_value_never_matches():
    assert not PartitionPattern("t/k={k}").matches("t/k=a/b")


def test_bad_patterns_are_definition_errors():
    with pytest.raises(DefinitionError):
        PartitionPattern("t/k={k}", version="1.0")
    with pytest.raises(DefinitionError):
        PartitionPattern("{k}/t")
    with pytest.raises(DefinitionError):
        PartitionPattern("t/a={a}/b={a}")
    with pytest.raises(DefinitionError):
        PartitionPattern("t/a={a}", dims={"zz": "date"})


class _J:
    def __init__(self, label, outputs):
        self.label, self.outputs = label, outputs


def test_unknown_datasets_name_the_closest_pattern():
    reg = Registry([_J("stats", [STATS]), _J("r", [PartitionPattern("reviews/date={date}",
                                                                   dims={"date": DateDim("date")})])])
    with pytest.raises(UnknownDatasetError, match="did you mean 'reviews/date=\\{date\\}'"):
        reg.parse("reveiws/date=2024-01-01")
    with pytest.raises(RefError, match="does not match pattern 'reviews/date="):
        reg.parse("reviews/day=2024-01-01")
    with pytest.raises(RefError, match="malformed ref"):
        reg.parse(" reviews/date=2024-01-01")


def test_two_jobs_producing_one_dataset_is_a_definition_error():
    with pytest.raises(DefinitionError, match="produced by both"):
        Registry([_J("a", [STATS]), _J("b", [STATS])])


def test_cli_ref_sugar_expands_date_ranges_and_choices():
    assert expand("t/c={a,b}/date=2024-01-30..2024-02-01") == [
        "t/c=a/date=2024-01-30", "t/c=a/date=2024-01-31", "t/c=a/date=2024-02-01",
        "t/c=b/date=2024-01-30", "t/c=b/date=2024-01-31", "t/c=b/date=2024-02-01"]


def test_values_may_be_200_characters_and_refs_512_and_no_longer():
    p = PartitionPattern("t/a={a}/b={b}/c={c}")
    ok = p.format(a="x" * 200, b="y" * 200, c="z" * 50)
    assert len(ok) <= 512 and p.parse(ok)["a"] == "x" * 200
    with pytest.raises(RefError, match="at most 200 characters"):
        p.format(a="x" * 201, b="y", c="z")
    with pytest.raises(RefError, match="at most 200 characters"):
        p.parse(f"t/a={'x' * 201}/b=y/c=z")
    with pytest.raises(RefError, match="at most 512 characters"):
        p.format(a="x" * 200, b="y" * 200, c="z" * 200)
    with pytest.raises(RefError, match="at most 512 characters"):
        Registry([_J("t", [p])]).parse("t/" + "a" * 600)


@pytest.mark.parametrize("bad, message", [
    ("2024\n", "control character"), ("a\tb", "control character"), ("a\x00", "control"),
    ("-rf", "starts with '-'"), ("--help", "starts with '-'"),
])
def test_values_with_control_characters_or_a_leading_dash_are_refused(bad, message):
    p = PartitionPattern("t/k={k}")
    with pytest.raises(RefError, match=message):
        p.parse(f"t/k={bad}")
    with pytest.raises(RefError):
        p.format(k=bad)


@pytest.mark.parametrize("bad", [b"t/k=1", 42, None, ["t/k=1"]])
def test_refs_that_are_not_text_get_a_typed_error_not_a_type_error(bad):
    reg = Registry([_J("t", [PartitionPattern("t/k={k}")])])
    with pytest.raises(RefError, match="bytes|must be a string"):
        reg.parse(bad)


def test_ranges_are_sized_before_they_are_expanded():
    from databuild_assets.refspec import count, expand_all

    assert count("x/date=0001-01-01..9999-12-31") == 3_652_059
    with pytest.raises(RefError, match="expands to 3,652,059 refs, more than the limit of "
                                       "100,000.*--max-refs"):
        expand("x/date=0001-01-01..9999-12-31")
    with pytest.raises(RefError, match="more than the limit of 10"):
        expand_all(["x/d={a,b,c}/date=2024-01-01..2024-01-04"], limit=10)
    assert len(expand_all(["x/d={a,b,c}/date=2024-01-01..2024-01-04"], limit=12)) == 12
    with pytest.raises(RefError, match="ends before it starts"):
        expand("x/date=2024-01-02..2024-01-01")
    with pytest.raises(RefError, match="bad date range"):
        expand("x/date=2024-02-30..2024-03-01")


def test_consecutive_days_form_one_run_and_a_gap_starts_the_next():
    from databuild_assets.core.refs import consecutive_runs, contiguous_dates

    assert contiguous_dates(["2024-01-03", "2024-01-01", "2024-01-02", "2024-01-05",
                             "2024-01-02"]) == [["2024-01-01", "2024-01-02", "2024-01-03"],
                                                ["2024-01-05"]]
    assert contiguous_dates(["2024-02-28", "2024-02-29", "2024-03-01"]) == [
        ["2024-02-28", "2024-02-29", "2024-03-01"]]  # a leap day is a day
    assert consecutive_runs([(1, "a"), (1, "b"), (2, "c"), (4, "d")], lambda x: x[0]) == [
        [(1, "a"), (1, "b"), (2, "c")], [(4, "d")]]  # same position: same run


def test_names_keep_only_what_their_destination_accepts():
    from databuild_assets.core.names import FILE, LOCK, safe_name

    assert safe_name("daily sales/eu-1") == "daily_sales_eu_1"  # a Dagster name
    assert safe_name("daily sales/eu-1.v2", FILE) == "daily_sales_eu-1.v2"
    assert safe_name("dbt:shop project:prod", LOCK) == "dbt:shop_project:prod"
