"""Timing a model the way evaluation runs it: latency and FPS of one call, and a frame to time."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from pixbench.runtime.runner import Runner


def time_call(fn: Any, *, warmup: int = 2, runs: int = 10) -> dict[str, float]:
    """Median and p90 latency (ms) and FPS of ``fn()`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    median = float(np.median(times))
    return {
        "latency_ms_median": median * 1e3,
        "latency_ms_p90": float(np.percentile(times, 90)) * 1e3,
        "fps": 1.0 / median if median > 0 else float("inf"),
        "runs": runs,
    }


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
