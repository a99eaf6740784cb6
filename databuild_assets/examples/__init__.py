"""Example graphs shipped with databuild."""
