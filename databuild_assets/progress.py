"""The build progress bar and the closing summary of ``databuild build``."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class BuildProgress:
    def __init__(self, console: Console, enabled: bool = True):
        self.console = console
        self.enabled = enabled
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(),
                                 MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                                 disable=not enabled, transient=False)
        self.task = None
        self.by_partition = False

    def partitions(self):
        """Count progress in partitions (Dagster runs cover many configs each)."""
        self.by_partition = True
        return self

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        return self.progress.__exit__(*exc)

    def on_event(self, kind, node, payload):
        if kind == "planned":
            total = len(payload.output_refs) if self.by_partition else len(payload.nodes)
            self.task = self.progress.add_task("building", total=max(total, 1))
            if not payload.nodes:
                self.progress.update(self.task, completed=1, description="nothing to build")
        elif kind == "building":
            self.progress.update(self.task, description=f"{node.job} {min(node.outputs)}")
        elif kind == "done" and payload.failed:
            ref, msg = sorted(payload.failed.items())[0]
            self.progress.console.print(f"[red]failed[/] {ref}: {msg}")
        elif kind in ("node_done", "skipped", "blocked"):
            self.progress.advance(self.task)
        elif kind == "run_started":
            self.progress.update(self.task, description=f"dagster run: {node.job} "
                                                        f"({len(node.refs)} partition(s))")
        elif kind == "run_done":
            self.progress.advance(self.task, advance=max(1, len(node.refs)))

    def print_summary(self, result) -> None:
        s = result.summary()
        if not any(s.get(k) for k in ("partitions_built", "cached", "delegated", "failed",
                                      "blocked")):
            self.console.print(f"[green]null build:[/] everything requested is live and fresh "
                               f"({s['skipped']} partition(s) checked in {s['seconds']}s)")
        colour = "green" if result.ok else "red"
        outcomes = s.get("delegated_outcomes") or {}
        delegated = f"delegated {s['delegated']}" + (
            f" ({', '.join(f'{v} {k}' for k, v in sorted(outcomes.items()))})" if outcomes else "")
        self.console.print(
            f"[{colour}]build {s['build_id']} {'succeeded' if result.ok else 'FAILED'}[/]: "
            f"jobs run {s['jobs_run']}"
            + (f" in {s['dagster_runs']} Dagster run(s)" if s.get("dagster_runs") else "")
            + f", partitions built {s['partitions_built']}, "
            f"skipped {s['skipped']} (fresh), cut off {s.get('cut_off', 0)}, "
            f"cached {s.get('cached', 0)}, {delegated}, failed {s['failed']}, "
            f"blocked {s['blocked']} in {s['seconds']}s")
        for ref, msg in sorted(result.failed.items())[:10]:
            self.console.print(f"  [red]failed[/] {ref}: {msg}")
