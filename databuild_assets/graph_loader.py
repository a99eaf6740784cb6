"""Resolve a graph spec (``package.module:attr``) to a databuild Graph.

Its own module because every entry point needs it (the CLI, the Dagster code location in
``definitions.py``) and so does a Dagster run worker rebuilding a job from a pointer
(``dagster/launcher.py``): none of them should import another entry point to get it.
"""

from __future__ import annotations

import importlib

from .core import Graph
from .core.errors import DefinitionError


def load_graph(spec: str) -> Graph:
    """The Graph at ``spec``; ``attr`` defaults to ``graph`` and may be a factory."""
    mod_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(mod_name)
    except ImportError as e:
        raise DefinitionError(f"cannot import graph module {mod_name!r} ({e}); pass --graph "
                              "package.module:attr or set DATABUILD_GRAPH") from None
    obj = getattr(module, attr or "graph", None)
    if callable(obj) and not isinstance(obj, Graph):
        obj = obj()
    if not isinstance(obj, Graph):
        raise DefinitionError(f"{spec!r} is not a databuild Graph; point --graph at one")
    return obj
