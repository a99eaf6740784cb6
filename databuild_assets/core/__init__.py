"""databuild core: partition semantics, usable and testable without Dagster."""

from .build import BuildResult
from .catalog import Catalog, Event, PartitionRow
from .config import DataDep, DepType, JobConfig, materialize, query
from .errors import (
    CatalogError,
    ConfigError,
    CycleError,
    DatabuildError,
    DefinitionError,
    ExecutableJobError,
    JobOutputError,
    MissingInputError,
    RefError,
    UnknownDatasetError,
)
from .executable import ExecutableJob
from .graph import Graph
from .job import Job, JobContext
from .manifest import InputRecord, PartitionManifest
from .planner import JobGraph
from .refs import (
    DateDim,
    Dim,
    PartitionPattern,
    StaticDim,
    contiguous_dates,
    date_range,
    shift_date,
)
from .staleness import Status
from .states import BuildState, PartitionState
from .storage import DataStore, data_version_of

__all__ = [
    "BuildResult", "BuildState", "Catalog", "CatalogError", "ConfigError", "CycleError",
    "DataDep", "DataStore", "DatabuildError", "DateDim", "DefinitionError", "DepType", "Dim",
    "Event", "ExecutableJob", "ExecutableJobError", "Graph", "InputRecord", "Job", "JobConfig",
    "JobContext", "JobGraph", "JobOutputError", "MissingInputError", "PartitionManifest",
    "PartitionPattern", "PartitionRow", "PartitionState", "RefError", "StaticDim", "Status",
    "UnknownDatasetError", "contiguous_dates", "data_version_of", "date_range", "materialize",
    "query", "shift_date",
]
