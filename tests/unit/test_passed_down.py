"""What the entry points pass down (issue 13): a graph bound by its caller, the default job
timeout, the secret resolver. Nothing here reads the settings module."""

import pytest

from databuild_assets.core import DefinitionError, Graph
from databuild_assets.core.executor import DEFAULT_TIMEOUT, job_timeout
from databuild_assets.core.secrets import env_secret
from databuild_assets.examples.shop import JOBS


def test_an_unbound_graph_says_so_instead_of_reading_the_settings():
    g = Graph(JOBS, name="shop")
    with pytest.raises(DefinitionError, match="graph 'shop' has no catalog"):
        g.known_refs()
    with pytest.raises(DefinitionError, match="graph 'shop' has no data root"):
        _ = g.data_root


def test_defaults_fill_only_what_a_graph_leaves_unbound_and_bind_overrides():
    own = Graph(JOBS, catalog="sqlite:///own.db", name="shop")
    filled = own.with_defaults("sqlite:///settings.db", "/data", 60.0)
    assert (filled._catalog, str(filled.data_root), filled.job_timeout) == (
        "sqlite:///own.db", "/data", 60.0)
    moved = filled.bind("sqlite:///other.db", job_timeout=5.0)
    assert (moved._catalog, str(moved.data_root), moved.job_timeout) == (
        "sqlite:///other.db", "/data", 5.0)
    assert filled.with_defaults(job_timeout=1.0).job_timeout == 60.0


def test_a_jobs_own_timeout_wins_then_the_graphs_then_the_default():
    class Own:
        timeout = 7

    class Plain:
        timeout = None

    assert job_timeout(Own(), 30.0) == 7.0
    assert job_timeout(Plain(), 30.0) == 30.0
    assert job_timeout(Plain()) == DEFAULT_TIMEOUT


def test_the_default_secret_resolver_reads_the_environment_then_the_secrets_file(tmp_path):
    f = tmp_path / "secrets.env"
    f.write_text("# a comment\nDB_PW=from-file\nTOKEN=file-token\n")
    f.chmod(0o600)
    env = {"TOKEN": "env-token", "DATABUILD_SECRETS_FILE": str(f)}
    assert env_secret("TOKEN", env) == "env-token"
    assert env_secret("DB_PW", env) == "from-file"
    assert env_secret("NOPE", env) is None
    assert env_secret("DB_PW", {}) is None
