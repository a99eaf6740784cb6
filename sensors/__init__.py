"""Sensors and schedules: pure decision functions with thin Dagster wrappers."""

from .staleness import build_staleness_sensor, status_changes

__all__ = ["build_staleness_sensor", "status_changes"]
