"""The Dagster adapter: assets, IO manager, partitions and launching for a databuild Graph."""

from .assets import BUILD_TAG, FORCE_TAG, PartitionSelection, build_definitions, job_asset
from .io_manager import DatabuildIOManager
from .partitions import key_to_ref, kind_of, partitions_def, ref_to_key
from .resource import DatabuildResource

__all__ = ["BUILD_TAG", "FORCE_TAG", "DatabuildIOManager", "DatabuildResource",
           "PartitionSelection", "build_definitions", "job_asset", "key_to_ref", "kind_of",
           "partitions_def", "ref_to_key"]
