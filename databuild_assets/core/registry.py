"""Which job produces which dataset: lookup of refs, with errors that point at a fix."""

from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable

from .errors import DefinitionError, RefError, UnknownDatasetError
from .refs import PartitionPattern, check_ref


class Registry:
    def __init__(self, jobs: Iterable):
        self.jobs = {}
        self.patterns: dict[str, PartitionPattern] = {}
        self.producer: dict[str, object] = {}
        for job in jobs:
            label = getattr(job, "label", None)
            if not label:
                raise DefinitionError(f"job {job!r} has no label; set the class attribute 'label'")
            if label in self.jobs:
                raise DefinitionError(f"two jobs are labelled {label!r}; labels must be unique")
            outputs = list(getattr(job, "outputs", None) or [])
            if not outputs:
                raise DefinitionError(f"job {label!r} declares no output patterns")
            self.jobs[label] = job
            for pat in outputs:
                if not isinstance(pat, PartitionPattern):
                    raise DefinitionError(f"job {label!r}: outputs must be PartitionPattern values")
                if pat.dataset in self.producer:
                    raise DefinitionError(
                        f"dataset {pat.dataset!r} is produced by both "
                        f"{self.producer[pat.dataset].label!r} and {label!r}; exactly one job "
                        "may produce a dataset"
                    )
                self.patterns[pat.dataset] = pat
                self.producer[pat.dataset] = job
        self._nested = any("/" in ds for ds in self.patterns)

    def dataset(self, ref: str) -> str:
        check_ref(ref)  # type, length, control characters: before any lookup
        if not isinstance(ref, str) or not ref or ref != ref.strip() or "//" in ref:
            raise RefError(f"malformed ref {ref!r}: expected e.g. 'reviews/date=2024-01-01'")
        ds = self._longest_prefix(ref)
        if ds is None:
            head = ref.split("/", 1)[0]
            close = difflib.get_close_matches(head, list(self.patterns), n=1)
            hint = (f"; did you mean '{self.patterns[close[0]].template}'?" if close else
                    f"; known datasets: {', '.join(sorted(self.patterns))}")
            raise UnknownDatasetError(f"no job produces dataset {head!r} (ref {ref!r}){hint}")
        return ds

    def producer_of(self, ref: str):
        """The job of a ref already parsed (no validation: use job_for for new refs)."""
        return self.producer[self._longest_prefix(ref)]

    def _longest_prefix(self, ref: str) -> str | None:
        """The longest known dataset prefixing ``ref``, in O(path segments): datasets may
        themselves contain '/'."""
        if not self._nested:
            head = ref.partition("/")[0]
            return head if head in self.patterns else None
        if ref in self.patterns:
            return ref
        i = len(ref)
        while (i := ref.rfind("/", 0, i)) > 0:
            if ref[:i] in self.patterns:
                return ref[:i]
        return None

    def pattern(self, ref: str) -> PartitionPattern:
        return self.patterns[self.dataset(ref)]

    def parse(self, ref: str) -> dict[str, str]:
        pat = self.pattern(ref)
        try:
            return pat.parse(ref)
        except RefError as e:
            if pat.template in str(e):
                raise
            raise RefError(f"{e}; expected something like '{pat.template}'") from None

    def check(self, refs: Iterable[str]) -> None:
        """``parse`` of many refs, raising the same errors: a ref whose pattern matches and
        whose values were all accepted before takes the short path (no dict, no re-checks);
        any other goes through ``parse``, which validates or explains."""
        patterns, prefix = self.patterns, self._longest_prefix
        for ref in refs:
            pat = patterns.get(prefix(ref)) if ref.__class__ is str else None
            m = pat._regex.fullmatch(ref) if pat is not None else None
            if m is None:
                self.parse(ref)
                continue
            for v, ok in zip(m.groups(), pat._valid_seq):  # noqa: B905 - one per group
                if v not in ok:
                    self.parse(ref)
                    break

    def job_for(self, ref: str):
        self.parse(ref)
        return self.producer[self._longest_prefix(ref)]

    def lookup(self, refs: Iterable[str]) -> dict[str, list[str]]:
        """Group refs by the label of the job that produces them."""
        out: dict[str, set[str]] = defaultdict(set)
        for ref in refs:
            out[self.job_for(ref).label].add(ref)
        return {k: sorted(v) for k, v in out.items()}
