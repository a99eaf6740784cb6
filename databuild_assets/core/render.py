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
