"""``DatabuildResource``: where databuild keeps its state, handed to Dagster code as a typed
resource.

The entry point (``definitions.py``, or the CLI through ``launcher.py`` for its runs) builds
it from the settings; the IO manager, the asset ops and the pipeline ops read their
configuration from it instead of from the settings. What Dagster stores of it (job
snapshots hold resource config) never holds a secret: the catalog URL comes without its
password, which is resolved in the run from the variable ``catalog_password_env`` names
(through the secret resolver), and a URL with a password is passed as a ``dg.EnvVar``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import dagster as dg

from ..core import Catalog, DataStore, Graph
from ..core.redact import with_url_password
from ..core.secrets import CATALOG_PASSWORD_ENV, env_secret


class DatabuildResource(dg.ConfigurableResource):
    """Catalog, data root and the paths and defaults of a databuild project."""

    catalog_url: str = ""  # without its password
    data_root: str = ""
    catalog_password_env: str = CATALOG_PASSWORD_ENV  # the variable holding that password
    home: str = ""  # the project's state folder (task artifacts, dbt parse cache)
    airbyte_home: str = ""  # embedded Airbyte connectors (default: <home>/airbyte)
    job_timeout: float = 0.0  # seconds a job may run unless it sets its own; 0: the default

    def secret(self, name: str) -> str | None:
        """A secret by name, in the process using the resource (environment, then the
        secrets file): the task layer's secret resolver."""
        return env_secret(name)

    @property
    def resolved_catalog_url(self) -> str:
        if not self.catalog_url:
            raise dg.Failure("DatabuildResource has no catalog_url: the code location's "
                             "definitions.py sets it from DATABUILD_CATALOG_URL")
        return with_url_password(self.catalog_url, self.secret(self.catalog_password_env))

    @property
    def resolved_data_root(self) -> Path:
        if not self.data_root:
            raise dg.Failure("DatabuildResource has no data_root: the code location's "
                             "definitions.py sets it from DATABUILD_DATA_ROOT")
        return Path(self.data_root)

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog.open(self.resolved_catalog_url)

    @cached_property
    def store(self) -> DataStore:
        return DataStore(self.resolved_data_root)

    def bind(self, graph: Graph) -> Graph:
        """``graph`` on this resource's catalog, data root and job timeout."""
        return graph.bind(self.resolved_catalog_url, self.resolved_data_root,
                          self.job_timeout or None)

    def state_home(self, fallback: Path) -> Path:
        """The state folder; ``fallback`` when none was given (a caller outside the entry
        points, e.g. a test building a pipeline job itself)."""
        return Path(self.home) if self.home else fallback

    def connectors_home(self, home: Path) -> Path:
        """Where embedded Airbyte connectors are installed (once, shared)."""
        return Path(self.airbyte_home) if self.airbyte_home else home / "airbyte"
