"""Engines: where a build's per-image work runs (in this process, a local process pool, or Ray).

The builder hands an engine one function of a single source image and the images;
the engine calls the function on each image somewhere and yields what each call
returned, as calls finish. The order does not matter: every call writes its own
files and done record, and the builder assembles the dataset in source order
afterwards. So the builder never needs to know which engine runs: it asks
:func:`make_engine` for one by name. The Ray engine is its own module
(:mod:`pixbench.builder.ray_engine`), imported only when chosen.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol, TypeVar

from pixbench.errors import DatasetError

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

#: How often a worker checks that the process that started it is still there (where the OS cannot tell it).
PARENT_CHECK_SECONDS = 1.0
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _init_worker(work: Callable[[Any], Any], parent: int) -> None:
    # Ctrl-C reaches the whole process group: the main process stops the pool and each worker finishes its
    # image rather than dying mid-write with a traceback of its own. SIGTERM gets its default back (a CLI
    # handler inherited through fork would turn it into KeyboardInterrupt), so that it ends a worker at once.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with(parent)
    # the function (with its recipe) reaches each worker once, not with every item
    _WORKER["work"] = work


def _die_with(parent: int) -> None:
    """End this worker when ``parent`` dies (SIGKILL, OOM), so that no worker lives on as an orphan."""
    if sys.platform.startswith("linux"):
        # the kernel sends SIGTERM the moment the parent is gone (strictly: the thread that forked this worker,
        # which is the thread that submits work, the main thread in pixbench)
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - a libc without prctl
            pass
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)
    # elsewhere (and as a second line of defence): a reparented worker sees another parent id
    threading.Thread(target=_watch_parent, args=(parent,), name="pixbench-parent-watch", daemon=True).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)


def _call(item: Any) -> Any:
    return _WORKER["work"](item)


class ProcessPoolEngine:
    """Runs calls on ``workers`` local processes, at most ``2 * workers`` in flight.

    Items are pulled from the iterable only as slots free up, so a long (or streamed)
    source is never listed into memory. Workers end with the process that started them,
    however it ends (an exception, Ctrl-C, SIGTERM, SIGKILL).
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def map(self, work: Callable[[T], R], items: Iterable[T]) -> Generator[R, None, None]:
        """Call ``work`` on the items in the pool (see :meth:`Engine.map`).

        Raises:
            DatasetError: A worker process died (killed by the system, say, for want of memory);
                the calls that had finished are kept.
        """
        methods = multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        finished_calls = 0
        with ProcessPoolExecutor(
            max_workers=self.workers, mp_context=context, initializer=_init_worker, initargs=(work, os.getpid())
        ) as pool:
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
                        result = future.result()  # a bug in a worker surfaces here
                        finished_calls += 1
                        yield result
            except BrokenProcessPool:
                pool.shutdown(wait=False, cancel_futures=True)
                raise DatasetError(
                    f"a worker process died (killed by the system, e.g. out of memory, or crashed) after "
                    f"{finished_calls} source images finished in this run; they are kept: rerun the same command "
                    "to resume (with fewer --workers if memory is short)"
                ) from None
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise


def local_engine(workers: int) -> Engine:
    """The engine for ``workers`` processes on this machine (``1``: no pool at all)."""
    return InlineEngine() if workers == 1 else ProcessPoolEngine(workers)


#: The engines ``--engine`` names.
ENGINES = ("local", "ray")


def make_engine(name: str, workers: int, *, address: str | None = None, shard_size: int | None = None) -> Engine:
    """The engine ``--engine NAME`` means: the one place an engine is chosen.

    Args:
        name: ``local`` (this machine's processes) or ``ray``.
        workers: Local worker processes; for ``ray`` without an address, the CPUs of the local Ray instance.
        address: ``ray`` only: the cluster to join (default: ``$RAY_ADDRESS``, else a local instance).
        shard_size: ``ray`` only: images per Ray task.

    Raises:
        DatasetError: An unknown engine, options that belong to ``ray`` given to ``local``, or a bad shard size.
    """
    if name not in ENGINES:
        raise DatasetError(f"--engine: expected one of {', '.join(ENGINES)}, got {name!r}")
    if name == "local":
        if address is not None or shard_size is not None:
            raise DatasetError("--ray-address and --shard-size need --engine ray")
        return local_engine(workers)
    if shard_size is not None and shard_size < 1:
        raise DatasetError(f"--shard-size: expected 1 or more images, got {shard_size}")
    from pixbench.builder.ray_engine import DEFAULT_SHARD_SIZE, RayEngine

    return RayEngine(
        address=address or os.environ.get("RAY_ADDRESS") or None,
        cpus=workers,
        shard_size=shard_size or DEFAULT_SHARD_SIZE,
    )
