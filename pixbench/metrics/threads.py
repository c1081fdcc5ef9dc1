"""Thread count of the compiled metric kernels.

The kernels split every image into jobs that depend only on its size and add the
jobs' partial sums in a fixed order, so results are bit-identical whatever the
thread count; the count only changes the speed.
"""

from __future__ import annotations


def set_threads(n: int | None) -> int:
    """Set how many threads the metric kernels use in the calling thread.

    Args:
        n: A count from 1 to the maximum (numba's ``NUMBA_NUM_THREADS``, by default the
            number of CPU cores), or ``None`` for the maximum.

    Returns:
        The previous count, so a caller can restore it.

    Raises:
        ValueError: ``n`` is not an integer in the allowed range.
    """
    # Imported here so that importing pixbench.metrics does not load numba.
    import numba

    limit = numba.config.NUMBA_NUM_THREADS
    if n is None:
        n = limit
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= limit:
        raise ValueError(f"threads must be an integer from 1 to {limit} (NUMBA_NUM_THREADS), got {n!r}")
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    return previous


def get_threads() -> int:
    """The number of threads the metric kernels use in the calling thread."""
    import numba

    return numba.get_num_threads()
