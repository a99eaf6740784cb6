"""Property-based fuzz of refs and configs through the API and the CLI: whatever comes in,
the answer is a typed error (DatabuildError; on the CLI a one-line message and exit 2), and
a rejected request leaves the catalog exactly as it was."""

from __future__ import annotations

import contextlib
import io
import sys

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from databuild_assets.core import Catalog, DatabuildError, Graph, Job, JobConfig, PartitionPattern
from tests.support.graphs import make_graph

FUZZ = settings(max_examples=30, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])
DATASETS = ["src", "daily", "trail", "cube", "fx", "nope"]
segment = st.one_of(
    st.text(max_size=12),  # anything at all: control characters, slashes, unicode
    st.sampled_from(["date=2024-01-05", "date=2024-13-01", "date=..", "date=-x",
                     "date=2024-01-01..2024-01-03", "date=0001-01-01..9999-12-31",
                     "color={red,blue}", "size=s", "date=2024-01-05\n", "date=", "=", ""]),
    st.builds(lambda n: "v" * n, st.integers(150, 700)).map(lambda v: f"date={v}"),
)
ref_text = st.builds(lambda ds, segs: "/".join([ds, *segs]), st.sampled_from(DATASETS),
                     st.lists(segment, max_size=4))
any_ref = st.one_of(ref_text, st.text(max_size=40), st.binary(max_size=20),
                    st.integers(), st.none(), st.lists(st.text(max_size=5), max_size=2))


def row_counts(url: str) -> dict[str, int]:
    eng = sa.create_engine(sa.engine.make_url(url).set(
        drivername="postgresql+psycopg2" if url.startswith("postgresql") else "sqlite"))
    with eng.connect() as c:
        counts = {t: c.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one()
                  for t in sa.inspect(eng).get_table_names()}
    eng.dispose()
    return counts


@pytest.fixture
def fuzz_graph(tmp_path, catalog_url):
    g = make_graph(tmp_path, Catalog.open(catalog_url))
    assert g.build(["daily/date=2024-01-05"]).ok  # something in the catalog to protect
    return g, catalog_url


@FUZZ
@given(ref=any_ref)
def test_any_ref_through_the_api_is_built_or_a_typed_error_and_rejections_write_nothing(
        fuzz_graph, ref):
    g, url = fuzz_graph
    before = row_counts(url)
    for call in (g.status, g.plan, g.build):
        try:
            call([ref])
        except DatabuildError:
            assert row_counts(url) == before, f"{call.__name__}({ref!r}) wrote to the catalog"
        else:
            return  # a valid ref: fine, and it may write (a build)


def _run_cli(args: list[str]) -> tuple[int, str, str]:
    from databuild_assets import cli

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["databuild", *args]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            cli.main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        sys.argv = argv
    return code, out.getvalue(), err.getvalue()


@FUZZ
@given(ref=st.one_of(ref_text, st.text(max_size=30).filter(lambda t: "\x00" not in t)),
       command=st.sampled_from(["plan", "status", "build", "mermaid", "lookup"]))
def test_any_ref_through_the_cli_exits_cleanly_with_one_line_and_rejections_write_nothing(
        fuzz_graph, tmp_path, monkeypatch, ref, command):
    g, url = fuzz_graph
    monkeypatch.setenv("DBTEST_ROOT", str(tmp_path))
    before = row_counts(url)
    code, out, err = _run_cli(["--graph", "tests.support.graphs:graph_from_env", "--catalog", url,
                               "--data-root", str(g.data_root), command, "--", ref])
    assert "Traceback" not in err and "unexpected" not in err, err
    assert code in (0, 1, 2), (code, err)
    if code == 2:
        assert err.strip() and row_counts(url) == before, (ref, err)


class FuzzJob(Job):
    """A job whose configure() returns whatever the fuzzer made, through the JSON protocol."""

    label = "fz"
    outputs = [PartitionPattern("fz/k={k}")]
    payload: object = None

    def configure(self, refs):
        return [JobConfig.from_json(self.payload, job=self.label)]

    def run(self, config, ctx):
        import pandas as pd

        for r in config.outputs:
            ctx.write(r, pd.DataFrame({"k": [r]}))


json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8)
config_payload = st.one_of(
    json_value,
    st.fixed_dictionaries({"outputs": st.one_of(st.just(["fz/k=1"]), json_value)},
                          optional={"inputs": st.one_of(json_value, st.lists(
                              st.fixed_dictionaries({"dep_type": st.sampled_from(
                                  ["materialize", "query", "sometimes", 3]),
                                  "ref": st.one_of(ref_text, json_value)}), max_size=2)),
                              "args": json_value, "env": json_value,
                              "secret_env": json_value}))


@FUZZ
@given(payload=config_payload)
def test_any_config_a_job_returns_is_planned_or_a_typed_error_and_writes_nothing(
        tmp_path, catalog_url, payload):
    job = FuzzJob()
    job.payload = payload
    g = Graph([*make_graph(tmp_path).jobs, job], Catalog.open(catalog_url), tmp_path / "data")
    before = row_counts(catalog_url)
    try:
        g.build(["fz/k=1"])
    except DatabuildError:
        assert row_counts(catalog_url) == before


def fuzz_graph_from_env() -> Graph:
    """For the CLI: the test graph plus FuzzJob returning FUZZ_PAYLOAD (JSON)."""
    import json
    import os
    from pathlib import Path

    job = FuzzJob()
    job.payload = json.loads(os.environ["FUZZ_PAYLOAD"])
    return Graph([*make_graph(Path(os.environ["DBTEST_ROOT"])).jobs, job])


@settings(max_examples=15, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(payload=config_payload, command=st.sampled_from(["plan", "build", "lookup"]))
def test_any_config_through_the_cli_exits_cleanly_and_rejections_write_nothing(
        fuzz_graph, tmp_path, monkeypatch, payload, command):
    import json

    g, url = fuzz_graph
    monkeypatch.setenv("DBTEST_ROOT", str(tmp_path))
    monkeypatch.setenv("FUZZ_PAYLOAD", json.dumps(payload))
    before = row_counts(url)
    code, out, err = _run_cli(["--graph", "tests.faults.test_limits_and_fuzz:fuzz_graph_from_env",
                               "--catalog", url, "--data-root", str(g.data_root), command,
                               "fz/k=1"])
    assert "Traceback" not in err and "unexpected" not in err, err
    assert code in (0, 1, 2), (code, err)
    if code == 2:
        assert err.strip() and row_counts(url) == before, (payload, err)
