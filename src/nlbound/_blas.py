"""numpy's BLAS thread count, in one place (torch.set_num_threads does not reach it)."""

from __future__ import annotations

import contextlib
import functools

from threadpoolctl import threadpool_limits


def blas_threads(threads: int | None):
    """Limit numpy's BLAS (OpenBLAS) to `threads` threads: a context manager, or, if never exited, a
    setting for the rest of the process. None: a no-op context.

    Why: left at one thread per core, two processes side by side oversubscribe the cores and
    OpenBLAS's spinning threads slowed the recorder's (2, m)·(m, d) product from ~10 ms to 140–390 ms
    (measured on this 2-core machine under load, BENCHMARKS.md); and a multi-threaded product sums
    in another order, so one thread also makes results independent of the machine."""
    if threads is None:
        return contextlib.nullcontext()

    return threadpool_limits(limits=int(threads), user_api="blas")


def one_blas_thread(fn):
    """Decorator: `fn` runs with numpy's BLAS on one thread (see blas_threads)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with blas_threads(1):
            return fn(*args, **kwargs)

    return wrapper
