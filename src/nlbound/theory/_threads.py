"""Blocks of elementwise work on a shared thread pool (numpy/scipy ufuncs release the GIL)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

BLOCK = 1 << 15  # elements per block of work (8 arrays of 256 KiB stay in L2)

_POOL = None
_POOL_LOCK = threading.Lock()


def default_workers() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run_tasks(fn, tasks, workers: int) -> None:
    """fn(task) for every task, on min(workers, len(tasks)) threads (in the caller when 1)."""
    global _POOL
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            fn(task)
        return
    with _POOL_LOCK:
        if _POOL is None or _POOL._max_workers < workers:
            _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nlbound-theory")
        pool = _POOL
    for f in [pool.submit(fn, task) for task in tasks]:
        f.result()


def blocks(n: int, block: int = BLOCK) -> list[slice]:
    """Consecutive slices of at most `block` elements covering range(n)."""
    return [slice(i, min(i + block, n)) for i in range(0, n, block)]
