"""databuild: a Dagster-based data asset platform whose unit of work is the partition."""

__version__ = "0.1.0"
