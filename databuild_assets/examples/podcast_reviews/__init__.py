"""The podcast-reviews platform: sample data, validation rules and the HTML report.

The building blocks here are pure (no catalog, no Dagster) so each can be tested on its own;
the jobs that wire them into the graph live next to them.
"""
