"""``databuild lookup`` and ``databuild plan --script``: which job and config makes a ref,
and a plan compiled to a plain shell script of executable-job invocations (the seed's
"compile to build script"). The script needs no databuild: each step pipes the exec request
(JobConfig plus input and output paths) into the program, in dependency order.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

from .core.errors import DatabuildError
from .core.executable import ExecutableJob
from .core.executor import job_timeout

_OUT = "@@DATABUILD_OUT@@"  # placeholder for the script's output folder inside the JSON


def lookup_configs(graph, refs: list[str]) -> list[dict]:
    """For each ref: its job (label, kind, code version, timeout) and the config that
    builds it, in its stored form (secrets masked)."""
    found = {}
    for label, rs in graph.lookup(refs).items():
        job = graph.registry.jobs[label]
        for cfg in job.configure(rs):
            cfg = cfg if cfg.job else cfg.with_job(label)
            for r in set(rs) & cfg.outputs:
                found[r] = {"ref": r, "job": label,
                            "kind": "executable" if isinstance(job, ExecutableJob) else "python",
                            "code_version": str(job.code_version),
                            "timeout": job_timeout(job, graph.job_timeout),
                            "command": list(getattr(job, "command", []) or []),
                            "config": cfg.to_json(), "hash": cfg.hash}
    missing = [r for r in refs if r not in found]
    if missing:
        raise DatabuildError(f"configure() of their jobs returned no config for "
                             f"{', '.join(missing[:5])}; check the jobs' configure()")
    return [found[r] for r in refs]


def _heredoc_json(data: dict) -> str:
    """JSON safe inside an unquoted heredoc, with ${OUT} expanded by the shell."""
    text = json.dumps(data, indent=None, sort_keys=True)
    text = text.replace("\\", "\\\\").replace("$", "\\$").replace("`", "\\`")
    return text.replace(_OUT, "${OUT}")


def render_script(graph, plan) -> str:
    python = sorted({n.job for n in plan.nodes
                     if not isinstance(graph.registry.jobs[n.job], ExecutableJob)})
    if python:
        raise DatabuildError(
            "plan --script writes executable-job invocations, but this plan runs Python "
            f"job(s) {', '.join(python)}, which only run inside databuild; build it with "
            "`databuild build` (or make those jobs executables speaking the config/exec "
            "protocol)")
    produced = plan.node_of()
    live = graph.status(sorted({d.ref for n in plan.nodes for d in n.inputs
                                if d.ref not in produced})) if plan.nodes else {}
    manifests = graph.catalog.manifests(s.manifest_id for s in live.values()
                                        if s.state == "live" and s.manifest_id)
    by_id = {m.manifest_id: m for m in manifests.values()}
    made: dict[str, str] = {}
    lines = ["#!/bin/sh",
             f"# databuild plan for {' '.join(plan.requested)[:300]}",
             f"# generated {time.strftime('%Y-%m-%d %H:%M:%S')}: {len(plan.nodes)} step(s); "
             "outputs go to $OUT as <ref>/data.parquet",
             "set -eu",
             'OUT="${OUT:-$PWD/databuild-out}"', ""]
    for i, node in enumerate(plan.nodes, 1):
        job = graph.registry.jobs[node.job]
        stored = node.to_json()
        inputs = {}
        for d in sorted(node.inputs):
            if d.ref in made:
                inputs[d.ref] = made[d.ref]
            else:
                st = live.get(d.ref)
                m = by_id.get(st.manifest_id) if st is not None and st.state == "live" else None
                if m is None and d.dep_type.value == "materialize":
                    raise DatabuildError(f"input {d.ref} of step {i} is neither live nor built "
                                         "by the plan; build it first")
                inputs[d.ref] = str(graph.store.abspath(m.path)) if m else None
        outputs = {r: f"{_OUT}/{r}/data.parquet" for r in sorted(node.outputs)}
        made.update(outputs)
        request = {**stored, "input_paths": inputs, "output_paths": outputs}
        env = []
        for k, v in sorted(node.env.items()):
            if stored["env"].get(k) == v:
                env.append(f"{k}={shlex.quote(v)}")
            else:  # a secret: taken from the environment the script runs in
                env.append(f'{k}="${{{k}:?set {k} (a secret, not written here)}}"')
        args = [a if a == s else f'"${{ARG_{i}_{n}:?set ARG_{i}_{n} (a secret argument)}}"'
                for n, (a, s) in enumerate(zip(node.args, stored["args"], strict=True))]
        lines.append(f"# step {i}: {node.job} -> {', '.join(sorted(node.outputs))[:300]}")
        for r in sorted(node.outputs):
            lines.append(f'mkdir -p "${{OUT}}/{r}"')
        cmd = " ".join([*env, shlex.join([*job.command, "exec"]), *[
            shlex.quote(a) if not a.startswith('"${ARG_') else a for a in args]])
        lines += [f"{cmd} <<DATABUILD_REQUEST", _heredoc_json(request), "DATABUILD_REQUEST", ""]
    lines.append('echo "built ' + str(sum(len(n.outputs) for n in plan.nodes))
                 + ' partition(s) under $OUT"')
    return "\n".join(lines) + "\n"


def write_script(graph, plan, target: str, console) -> None:
    text = render_script(graph, plan)
    if target == "-":
        sys.stdout.write(text)
        return
    path = Path(target)
    path.write_text(text)
    path.chmod(0o755)
    console.print(f"wrote {path} ({len(plan.nodes)} step(s)); run it with OUT=folder {path}")
