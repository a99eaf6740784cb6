"""Task layer: dbt, Airbyte and shell operations built per run from declared parameters."""
