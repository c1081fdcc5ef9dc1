"""Threads for the compiled kernels (metrics and the runtime's tensor conversions): the count, and the job runner.

A metric cuts an image into jobs whose boundaries depend only on the image size and
adds the jobs' partial sums in job order, so results are bit-identical whatever the
thread count; the count only changes the speed.

The runner hands out jobs one at a time from a shared counter, and the calling
thread works too. On a busy machine a helper thread that has not been scheduled yet
simply finds no jobs left: the call waits only for jobs already started, never for
an idle thread to wake up (a fork-join team, as in OpenMP, waits for every thread
at its closing barrier).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_MAX = os.cpu_count() or 1
_threads = _MAX
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def set_threads(n: int | None) -> int:
    """Set how many threads the metric kernels use (for the whole process).

    Args:
        n: A count from 1 to the number of CPUs, or ``None`` for the number of CPUs (the default).

    Returns:
        The previous count, so a caller can restore it.

    Raises:
        ValueError: ``n`` is not an integer in the allowed range.
    """
    global _threads
    if n is None:
        n = _MAX
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= _MAX:
        raise ValueError(f"threads must be an integer from 1 to {_MAX} (the number of CPUs), got {n!r}")
    previous, _threads = _threads, n
    return previous


def get_threads() -> int:
    """The number of threads the metric kernels use."""
    return _threads


def _helpers() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=max(1, _MAX - 1), thread_name_prefix="pixbench-metrics")
        return _pool


def run_jobs(job: Callable[[int], T], n_jobs: int) -> list[T]:
    """``[job(0), ..., job(n_jobs - 1)]``, computed on up to :func:`get_threads` threads.

    ``job`` should release the GIL (the compiled kernels do), or the threads only take turns.
    """
    results: list = [None] * n_jobs
    n_helpers = min(_threads, n_jobs) - 1
    if n_helpers <= 0:
        return [job(j) for j in range(n_jobs)]
    state = {"next": 0, "left": n_jobs}
    errors: list[BaseException] = []
    cond = threading.Condition()

    def work() -> None:
        while True:
            with cond:
                j = state["next"]
                if j >= n_jobs or errors:
                    return
                state["next"] = j + 1
            try:
                results[j] = job(j)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread
                errors.append(exc)
            with cond:
                state["left"] -= 1
                cond.notify_all()

    pool = _helpers()
    for _ in range(n_helpers):
        pool.submit(work)
    work()
    with cond:
        # Wait only for jobs that were claimed: unclaimed ones would be claimed by this thread.
        while state["left"] > n_jobs - state["next"]:
            cond.wait()
    if errors:
        raise errors[0]
    return results
