"""Error types. Every message names what is wrong and what to do about it."""


class DatabuildError(Exception):
    """Base class: the CLI prints these as one line and exits non-zero."""


class RefError(DatabuildError, ValueError):
    """A partition ref is malformed or matches no dataset."""


class UnknownDatasetError(RefError):
    """A ref names a dataset that no job produces."""


class DefinitionError(DatabuildError):
    """The graph itself is wrong: ambiguous producers, bad patterns, bad job classes."""


class ConfigError(DatabuildError):
    """A job's configure() returned something inconsistent."""


class CycleError(DatabuildError):
    """Planning found a dependency cycle between partitions."""

    def __init__(self, cycle: list[str]):
        self.cycle = cycle
        super().__init__(
            "dependency cycle between partitions: "
            + " -> ".join(cycle)
            + "; break it by changing the inputs that configure() returns"
        )


class JobOutputError(DatabuildError):
    """A job wrote an undeclared ref or did not write a declared one."""


class ExecutableJobError(DatabuildError):
    """An external executable job failed or broke the config/exec protocol."""


class MissingInputError(DatabuildError):
    """A MATERIALIZE input is not live when a job runs."""

    def __init__(self, refs: list[str], reasons: dict | None = None):
        self.refs = sorted(refs)
        self.reasons = reasons or {}
        cmd = "databuild build " + " ".join(self.refs)
        states = {r: (self.reasons.get(r) or ("missing",))[0] for r in self.refs}
        listed = ", ".join(f"{r} ({states[r]})" for r in self.refs[:20])
        more = f" and {len(self.refs) - 20} more" if len(self.refs) > 20 else ""
        super().__init__(
            f"MATERIALIZE input(s) not live and fresh: {listed}{more}; build them first with: {cmd}"
        )


class CatalogError(DatabuildError):
    """The catalog cannot be opened or is at an unknown schema version."""
