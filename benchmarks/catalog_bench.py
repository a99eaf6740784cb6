"""Catalog figures on SQLite and PostgreSQL: manifest writes per second (one transaction
per manifest, as a build commits them, and batched with ``commit_many``), and the
status/staleness of N live partitions with full provenance (every input checked)."""

from __future__ import annotations

import uuid

from databuild_assets.core import Catalog, PartitionManifest
from databuild_assets.core.catalog import Event
from databuild_assets.core.manifest import InputRecord

from .common import Timer, backends, catalog_url, log, rate, rnd, scratch, skipped
from .synthetic import make_graph, workload

BATCH = 1000


def synthetic_manifests(graph, refs: list[str]) -> list[tuple[PartitionManifest, str]]:
    """Manifests as a full build of ``refs`` would record them (configs, inputs with the
    versions they read), without running jobs: the catalog is what is measured. Each gets a
    one-byte data file, so status checks real files, as it does for a user."""
    plan = graph.plan(refs)
    root = graph.data_root
    jobs = {j.label: j for j in graph.jobs}
    made: dict[str, PartitionManifest] = {}
    out = []
    for node in plan.nodes:
        config = node.to_json()
        for ref in sorted(node.outputs):
            inputs = tuple(InputRecord(d.ref, d.dep_type.value,
                                       made[d.ref].manifest_id if d.ref in made else None,
                                       made[d.ref].data_version if d.ref in made else None)
                           for d in sorted(node.inputs))
            m = PartitionManifest(
                ref=ref, job=node.job, config=config, config_hash=node.hash,
                code_version=str(jobs[node.job].code_version),
                dataset_version=graph.registry.patterns[graph.registry.dataset(ref)].version,
                data_version=uuid.uuid4().hex, inputs=inputs,
                start_time=1.0, end_time=2.0, run_id="bench", build_id="bench", row_count=1,
                path=f"{ref}/part-x.parquet", size=1)
            target = root / m.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"x")
            made[ref] = m
            out.append((m, graph.registry.dataset(ref)))
    return out


def _write_batched(catalog: Catalog, items) -> float:
    with Timer() as t:
        for i in range(0, len(items), BATCH):
            chunk = items[i:i + BATCH]
            catalog.commit_many(chunk, [Event("bench", "available", m.ref, m.job)
                                        for m, _ds in chunk])
    return t.seconds


def _write_one_by_one(catalog: Catalog, items) -> float:
    with Timer() as t:
        for m, ds in items:
            catalog.commit(m, ds, [Event("bench", "available", m.ref, m.job)])
    return t.seconds


def measure(backend: str, url: str, n_status: int, n_single: int) -> dict:
    with scratch() as folder:
        graph = make_graph(catalog=Catalog.open(url), data_root=folder)
        refs = workload(n_status)
        items = synthetic_manifests(graph, refs)
        log(f"{backend}: write {len(items)} manifests in batches of {BATCH}")
        batched = _write_batched(graph.catalog, items)
        with catalog_url(backend, folder) as url2:
            other = make_graph(catalog=Catalog.open(url2), data_root=folder)
            sample = synthetic_manifests(other, workload(n_single))[:n_single]
            log(f"{backend}: commit {len(sample)} manifests one transaction each")
            single = _write_one_by_one(other.catalog, sample)
            other.catalog.dispose()
        graph.catalog.dispose()
        graph = make_graph(catalog=Catalog.open(url), data_root=folder)  # cold connection
        log(f"{backend}: status of {len(refs)} partitions")
        with Timer() as cold:
            st = graph.status(refs)
        with Timer() as warm:
            graph.status(refs)
        states = sorted({s.state for s in st.values()})
        graph.catalog.dispose()
    return {
        "catalog": backend,
        "manifest_writes_batched": {"manifests": len(items), "batch": BATCH,
                                    "seconds": rnd(batched), "per_s": rate(len(items), batched)},
        "manifest_commits_one_per_transaction": {"manifests": len(sample),
                                                 "seconds": rnd(single),
                                                 "per_s": rate(len(sample), single)},
        "status": {"partitions": len(refs), "catalog_partitions": len(items),
                   "seconds": rnd(cold.seconds), "seconds_second_call": rnd(warm.seconds),
                   "partitions_per_s": rate(len(refs), cold.seconds), "states": states},
    }


def catalog_figures(n_status: int, n_single: int) -> list[dict]:
    out: list[dict] = []
    why: dict[str, str] = {}
    for backend in backends(why):
        with scratch() as folder, catalog_url(backend, folder) as url:
            out.append(measure(backend, url, n_status, n_single))
    out += [skipped(b, w, partitions=n_status) for b, w in why.items()]
    return out
