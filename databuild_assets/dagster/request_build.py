"""The `request_build` job: ask for partitions "with whatever upstream they need" from the UI.

Its launchpad config is ``{refs: [...], ttl, sla, comment}``. The run checks the refs, plans
them, records a want in the catalog and finishes; the wants sensor (daemon) then launches
the missing work wave by wave. The run page shows the want id, the plan as a mermaid
flowchart and how much of it is live.
"""

import dagster as dg

from ..core import DatabuildError, Graph

JOB_NAME = "request_build"
EXAMPLE_CONFIG_NOTE = "refs accept braces: trailing_ratings/category={news,comedy}/date=2024-01-15"


class RequestBuild(dg.Config):
    """Launchpad config of `request_build`."""

    refs: list[str]
    ttl: str = "1d"  # keep trying this long (30m, 6h, 7d)
    sla: str | None = None  # report a breach if not live this long after the request
    comment: str = ""


def plan_markdown(graph: Graph, refs: list[str], want_id: str) -> tuple[str, dict]:
    """The run page's view of a request: plan as mermaid plus live/total progress."""
    plan = graph.plan(refs)
    to_build = list(plan.output_refs)
    status = graph.status(refs)
    live = sorted(r for r, s in status.items() if s.state == "live")
    lines = [f"**want `{want_id}`**: {len(live)}/{len(refs)} requested partition(s) live; "
             f"{len(to_build)} partition(s) to build in {len(plan.nodes)} job config(s), "
             f"{len(plan.skipped)} already live and fresh.",
             "", "Follow it with `databuild wants` or the `databuild_wants` sensor's ticks.",
             "", "```mermaid", plan.mermaid(max_nodes=60), "```"]
    return "\n".join(lines), {"to_build": len(to_build), "live": len(live),
                              "skipped": len(plan.skipped)}


def request_build_job(graph: Graph, *, catalog_url: str = "", data_root: str = "",
                      name: str = JOB_NAME) -> dg.JobDefinition:
    @dg.op(name=f"{name}_op", out=dg.Out(dg.Nothing),
           description="Record a want for the refs; the wants sensor builds them with their "
                       "upstream. " + EXAMPLE_CONFIG_NOTE)
    def _op(context: dg.OpExecutionContext, config: RequestBuild):
        from ..core.wants import want
        from ..refspec import expand_all

        bound = graph.bind(catalog_url or None, data_root or None)
        try:
            refs = expand_all(config.refs)
            w = want(bound, refs, ttl=config.ttl, sla=config.sla, comment=config.comment,
                     source=f"dagster:{context.run_id}")
            md, counts = plan_markdown(bound, refs, w.want_id)
        except DatabuildError as e:
            raise dg.Failure(description=f"request_build: {e}") from None
        context.log.info(f"want {w.want_id} recorded for {len(refs)} ref(s); "
                         f"{counts['to_build']} partition(s) to build")
        context.instance.add_run_tags(context.run_id, {"databuild/want_id": w.want_id})
        yield dg.Output(None, metadata={
            "want_id": dg.MetadataValue.text(w.want_id),
            "refs": dg.MetadataValue.json(refs),
            "plan": dg.MetadataValue.md(md),
            "partitions_to_build": dg.MetadataValue.int(counts["to_build"]),
            "requested_live": dg.MetadataValue.int(counts["live"]),
            **({"expires_at": dg.MetadataValue.timestamp(w.expires_at)} if w.expires_at else {}),
        })

    @dg.job(name=name, tags={"databuild/kind": "request"},
            description="Request partitions with their upstream: records a want that the "
                        "wants sensor serves. Config: {refs: [...], ttl, sla, comment}.")
    def _job():
        _op()

    return _job
