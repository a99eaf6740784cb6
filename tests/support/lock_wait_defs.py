"""A code location with one pipeline job, from the pipelines file in DATABUILD_TEST_PIPELINES
(tests of runs that Dagster launches itself)."""

import os

import dagster as dg

from resources import pipelines as pl
from resources.dagster_pipelines import pipeline_job

_pf = pl.load(os.environ["DATABUILD_TEST_PIPELINES"])
defs = dg.Definitions(jobs=[pipeline_job(_pf, p) for p in _pf.pipelines.values()])
