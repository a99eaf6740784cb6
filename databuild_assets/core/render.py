"""Mermaid rendering of a JobGraph: jobs as boxes, partitions as rounded nodes."""

from __future__ import annotations

import re


def _id(prefix: str, text: str, ids: dict[str, str]) -> str:
    if text not in ids:
        ids[text] = f"{prefix}{len(ids)}"
    return ids[text]


def _label(text: str) -> str:
    return re.sub(r'["<>]', "'", text)


def mermaid(g, max_nodes: int = 200) -> str:
    lines = ["flowchart LR"]
    ids: dict[str, str] = {}
    built = set(g.output_refs)
    for n in g.nodes[:max_nodes]:
        jid = _id("j", "job:" + n.hash, ids)
        outs = sorted(n.outputs)
        shown = outs[0] + (f" … +{len(outs) - 1}" if len(outs) > 1 else "")
        lines.append(f'    {jid}["{_label(n.job)}<br/>{_label(shown)}"]:::job')
        for i in sorted(n.inputs, key=lambda d: d.ref):
            rid = _id("r", i.ref, ids)
            lines.append(f'    {rid}("{_label(i.ref)}")')
            arrow = "-->" if i.dep_type.value == "materialize" else "-.->|query|"
            lines.append(f"    {rid} {arrow} {jid}")
        for o in outs:
            rid = _id("r", o, ids)
            lines.append(f'    {rid}("{_label(o)}"):::build')
            lines.append(f"    {jid} --> {rid}")
    if len(g.nodes) > max_nodes:
        lines.append(f'    more["… {len(g.nodes) - max_nodes} more jobs"]')
    for r in g.skipped:
        if r in ids and r not in built:
            lines.append(f"    class {ids[r]} fresh")
    lines += [
        "    classDef job fill:#eef,stroke:#447;",
        "    classDef build fill:#fed,stroke:#a60;",
        "    classDef fresh fill:#dfd,stroke:#393;",
    ]
    return "\n".join(lines)


def provenance_mermaid(catalog, manifest_ids, max_nodes: int = 200) -> str:
    """The provenance of live partitions: each manifest and, recursively, the manifests
    of the inputs it read (exact versions), as a flowchart."""
    lines = ["flowchart LR"]
    ids: dict[str, str] = {}
    seen: set[str] = set()
    frontier = [i for i in manifest_ids if i]
    roots = set(frontier)
    while frontier and len(seen) < max_nodes:
        batch = catalog.manifests(i for i in frontier if i not in seen)
        frontier = []
        for mid, m in sorted(batch.items()):
            if mid in seen or len(seen) >= max_nodes:
                continue
            seen.add(mid)
            nid = _id("m", mid, ids)
            text = (_label(m.ref) + "<br/>" + _label(
                f"{m.job}@{m.code_version} · {m.data_version[:10]}"
                + (f" · {m.row_count} rows" if m.row_count is not None else "")))
            lines.append(f'    {nid}("{text}"):::{"root" if mid in roots else "live"}')
            for i in m.inputs:
                arrow = "-->" if i.dep_type == "materialize" else "-.->|query|"
                if i.manifest_id:
                    lines.append(f"    {_id('m', i.manifest_id, ids)} {arrow} {nid}")
                    frontier.append(i.manifest_id)
                else:
                    aid = _id("a", "absent:" + i.ref, ids)
                    lines.append(f'    {aid}["{_label(i.ref)} (absent)"]:::absent')
                    lines.append(f"    {aid} {arrow} {nid}")
    if frontier:
        lines.append(f'    more["… more inputs (limit {max_nodes})"]')
    lines += [
        "    classDef root fill:#fed,stroke:#a60;",
        "    classDef live fill:#dfd,stroke:#393;",
        "    classDef absent fill:#eee,stroke:#999,stroke-dasharray: 3 3;",
    ]
    return "\n".join(lines)


def sample_ref(pattern) -> str:
    """One plausible ref of a pattern, for probing a job's configure()."""
    import datetime as dt

    from .refs import DateDim, StaticDim

    values = {}
    for d in pattern.dims:
        if isinstance(d, DateDim):
            values[d.name] = (dt.date.fromisoformat(d.start) + dt.timedelta(days=10)).isoformat()
        elif isinstance(d, StaticDim):
            values[d.name] = d.values[0]
        else:
            values[d.name] = "sample"
    return pattern.format(**values)


def dataset_edges(registry) -> tuple[dict[str, list[tuple[str, str]]], dict[str, str]]:
    """Per job, its (input dataset, dep type) pairs, probed by configuring one sample ref of
    each output; and the jobs that could not be probed, with why."""
    edges: dict[str, list[tuple[str, str]]] = {}
    problems: dict[str, str] = {}
    for label, job in registry.jobs.items():
        found: set[tuple[str, str]] = set()
        for pat in job.outputs:
            ref = sample_ref(pat)
            try:
                configs = job.configure([ref])
                cfg = next((c for c in configs if ref in c.outputs), None)
                for dep in (cfg.inputs if cfg else ()):
                    found.add((registry.dataset(dep.ref), dep.dep_type.value))
            except Exception as e:  # noqa: BLE001 - a drawing never fails on one job
                problems[label] = f"{type(e).__name__}: {e}"
        edges[label] = sorted(found)
    return edges, problems


def dataset_mermaid(registry) -> str:
    """Datasets (rounded) and the jobs (boxes) that read and write them."""
    lines = ["flowchart LR"]
    ids: dict[str, str] = {}
    edges, problems = dataset_edges(registry)
    for label, job in sorted(registry.jobs.items()):
        jid = _id("j", "job:" + label, ids)
        lines.append(f'    {jid}["{_label(label)}"]:::job')
        for pat in job.outputs:
            did = _id("d", pat.dataset, ids)
            lines.append(f'    {did}("{_label(pat.dataset)} v{pat.version}")')
            lines.append(f"    {jid} --> {did}")
        for ds, dep in edges.get(label, ()):
            arrow = "-->" if dep == "materialize" else "-.->|query|"
            lines.append(f"    {_id('d', ds, ids)} {arrow} {jid}")
    for label, why in sorted(problems.items()):
        lines.append(f"    %% could not probe job {label}: {_label(why.splitlines()[0])[:200]}")
    lines.append("    classDef job fill:#eef,stroke:#447;")
    return "\n".join(lines)
