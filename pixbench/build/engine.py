"""Engines: where a build's per-image work runs (in this process, or on a local process pool).

The builder hands an engine one function of a single source image and the images;
the engine calls the function on each image somewhere and yields what each call
returned, as calls finish. The order does not matter: every call writes its own
files and done record, and the builder assembles the dataset in source order
afterwards. So the builder never needs to know which engine runs; another one (Ray,
say) is one more class with the same :meth:`Engine.map`.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Protocol, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class Engine(Protocol):
    """Runs a function over items and yields the results as they finish (in any order)."""

    def map(self, work: Callable[[T], R], items: Iterable[T]) -> Generator[R, None, None]:
        """Call ``work`` on every item.

        ``work`` must pickle (a module-level function or a :func:`functools.partial` of
        one), so an engine can ship it to other processes. The result is a generator, so
        a caller that stops early can ``close()`` it and the engine stops its workers.
        An exception from a call is raised to the caller.
        """
        ...


def default_workers() -> int:
    """All the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


class InlineEngine:
    """Runs every call in this process, one after another (``--workers 1``)."""

    def map(self, work: Callable[[T], R], items: Iterable[T]) -> Generator[R, None, None]:
        """Call ``work`` on each item in turn (see :meth:`Engine.map`)."""
        for item in items:
            yield work(item)


_WORKER: dict[str, Any] = {}


def _init_worker(work: Callable[[Any], Any]) -> None:
    # the function (with its recipe) reaches each worker once, not with every item
    _WORKER["work"] = work


def _call(item: Any) -> Any:
    return _WORKER["work"](item)


class ProcessPoolEngine:
    """Runs calls on ``workers`` local processes, at most ``2 * workers`` in flight.

    Items are pulled from the iterable only as slots free up, so a long (or streamed)
    source is never listed into memory.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def map(self, work: Callable[[T], R], items: Iterable[T]) -> Generator[R, None, None]:
        """Call ``work`` on the items in the pool (see :meth:`Engine.map`)."""
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        with ProcessPoolExecutor(max_workers=self.workers, mp_context=context, initializer=_init_worker,
                                 initargs=(work,)) as pool:
            pending: set[Future] = set()
            queue = iter(items)
            try:
                while True:
                    while len(pending) < 2 * self.workers:
                        item = next(queue, None)
                        if item is None:
                            break
                        pending.add(pool.submit(_call, item))
                    if not pending:
                        break
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        yield future.result()  # a bug in a worker surfaces here
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise


def local_engine(workers: int) -> Engine:
    """The engine for ``workers`` processes on this machine (``1``: no pool at all)."""
    return InlineEngine() if workers == 1 else ProcessPoolEngine(workers)
