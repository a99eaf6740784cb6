"""Run the nodes of a DAG up to N at once: a node starts when all its predecessors finished.

Why threads: a node's work is a forked job process (procs.run_isolated) or a Dagster run,
and the thread that started it mostly waits on it; the GIL is not the limit. Nodes with the
same pool key (a warehouse target, the task layer's ``dbt:<project>:<target>``) never run
side by side: the scheduler starts another node instead of parking a worker on the pool.
"""

from __future__ import annotations

import bisect
import threading
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

Key = Hashable


class Pools:
    """One lock per pool key, for work that reaches a pool outside the scheduler (a takeover
    runs its sub-plan inside a worker): holding it is what "one writer at a time" means."""

    def __init__(self):
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    def lock(self, key: str | None):
        if key is None:
            return _NoLock()
        with self._guard:
            return self._locks[key]


class _NoLock:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def startable(ready: list[int], pool: Mapping[int, str | None], busy: set[str],
              free: int) -> list[int]:
    """Which ready nodes (plan positions, in order) start now: at most ``free``, none whose
    pool is busy or taken by an earlier pick."""
    picked, taken = [], set(busy)
    for i in ready:
        if len(picked) >= free:
            break
        p = pool.get(i)
        if p is not None and p in taken:
            continue
        picked.append(i)
        if p is not None:
            taken.add(p)
    return picked


def run_dag(keys: list[Key], preds: Mapping[Key, Iterable[Key]], run_one: Callable[[Key], None],
            jobs: int, pool_of: Callable[[Key], str | None] = lambda _k: None,
            on_interrupt: Callable[[], None] | None = None) -> None:
    """Call ``run_one(k)`` for every key, each after its predecessors (those among ``keys``)
    returned; up to ``jobs`` at once, earlier keys first. ``jobs <= 1``: in order, in this
    thread. The first exception stops new starts; running nodes finish, then it is raised.
    An interrupt (Ctrl-C, SIGTERM) calls ``on_interrupt`` (stop the running jobs) and waits
    for the workers before it propagates: nothing keeps running after the build returns."""
    if jobs <= 1:
        for k in keys:
            run_one(k)
        return
    pos = {k: i for i, k in enumerate(keys)}
    waiting = {i: {pos[p] for p in preds.get(k, ()) if p in pos and pos[p] != i}
               for k, i in pos.items()}
    dependents: dict[int, list[int]] = defaultdict(list)
    for i, ps in waiting.items():
        for p in ps:
            dependents[p].append(i)
    pool = {i: pool_of(k) for k, i in pos.items()}
    ready = [i for i in range(len(keys)) if not waiting[i]]
    busy: set[str] = set()
    running: dict[Future, int] = {}
    error: BaseException | None = None
    with ThreadPoolExecutor(jobs, thread_name_prefix="databuild-node") as ex:
        try:
            while ready or running:
                if error is None:
                    for i in startable(ready, pool, busy, jobs - len(running)):
                        ready.remove(i)
                        if pool[i] is not None:
                            busy.add(pool[i])
                        running[ex.submit(run_one, keys[i])] = i
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for f in done:
                    i = running.pop(f)
                    busy.discard(pool[i])
                    if f.exception() is not None and error is None:
                        error = f.exception()
                    for d in dependents[i]:
                        waiting[d].discard(i)
                        if not waiting[d]:
                            bisect.insort(ready, d)
        except BaseException:  # an interrupt: stop the running nodes, wait, re-raise
            if on_interrupt is not None:
                on_interrupt()
            wait(running)
            raise
    if error is not None:
        raise error
