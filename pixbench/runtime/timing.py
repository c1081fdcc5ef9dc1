"""Timing a model the way evaluation runs it: latency and FPS of one call, and a frame to time."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from pixbench.runtime.runner import Runner

#: The shortest timed window whose other work is reported: the kernel counts CPU time in ticks (usually
#: 10 ms), so over half a second a reading is good to a few hundredths of a core.
MIN_WINDOW_S = 0.5

#: Seconds of wall clock, of busy host CPU and of this process's CPU over a timed window.
CpuWindow = tuple[float, float, float]


def time_call(fn: Any, *, warmup: int = 2, runs: int = 10, min_window_s: float = MIN_WINDOW_S) -> dict[str, Any]:
    """Median and p90 latency (ms) and FPS of ``fn()`` after ``warmup`` untimed calls.

    ``cpu_window`` is what the host's CPUs did while ``fn`` ran (:data:`CpuWindow`, None where the OS
    does not say); :func:`other_cpu` turns windows into the other work on the host. When the ``runs``
    timed calls take less than ``min_window_s``, ``fn`` is called again, outside the statistics, until
    the window is that long, so that a fast model's window still holds enough clock ticks to read.
    """
    for _ in range(warmup):
        fn()
    times = []
    start = _cpu_clocks()
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    while start is not None and time.perf_counter() - start[0] < min_window_s:
        fn()
    end = _cpu_clocks()
    median = float(np.median(times))
    return {
        "latency_ms_median": median * 1e3,
        "latency_ms_p90": float(np.percentile(times, 90)) * 1e3,
        "fps": 1.0 / median if median > 0 else float("inf"),
        "runs": runs,
        "cpu_window": None if start is None or end is None else tuple(e - s for s, e in zip(start, end)),
    }


def _cpu_clocks() -> CpuWindow | None:
    """(wall seconds, seconds the host's cores were busy, CPU seconds of this process) now; None off Linux.

    Busy is every ``/proc/stat`` state but idle and I/O wait, steal included (a neighbour VM's share of
    the physical cores slows a timing as much as a local process does)."""
    try:
        fields = Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0].split()
        ticks = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, AttributeError):
        return None
    if not fields or fields[0] != "cpu" or len(fields) < 9:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    own = os.times()
    return time.perf_counter(), (user + nice + system + irq + softirq + steal) / ticks, own.user + own.system


def other_cpu(windows: list[CpuWindow | None]) -> float | None:
    """The cores' worth of CPU that everything but this process used over the timed windows together.

    0.0 on an idle host; 1.0 means one core fully taken by other work. None where a window is unknown or
    the windows add up to less than :data:`MIN_WINDOW_S` (too few clock ticks to tell). Rounded to 2 decimals.
    """
    if not windows or any(w is None for w in windows):
        return None
    wall, busy, own = (sum(w[i] for w in windows) for i in range(3))
    if wall < MIN_WINDOW_S:
        return None
    return round(max(0.0, busy - own) / wall, 2)


def frame_call(runner: Runner, height: int, width: int, *, seed: int = 0) -> Any:
    """A zero-argument call that processes one ``height x width`` frame the way evaluation does.

    The frame is random noise (content does not change the work a network does);
    a low-res model gets the grid that upscales to this size, a model of a task that
    takes a mask a centred 75x75 hole (at most half the frame on each side).
    """
    rng = np.random.default_rng(seed)
    spec = runner.spec
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    task = spec.task_info
    if not task.restores:
        return lambda: runner.detect_raw(image)
    lowres = image[:: spec.scale, :: spec.scale].copy() if spec.input == "lowres" else None
    mask = None
    if task.takes_mask:
        mask = np.zeros((height, width), bool)
        hh, hw = min(75, height // 2), min(75, width // 2)
        y0, x0 = (height - hh) // 2, (width - hw) // 2
        mask[y0 : y0 + hh, x0 : x0 + hw] = True
    return lambda: runner.restore(image, mask=mask, lowres=lowres)
