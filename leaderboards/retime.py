#!/usr/bin/env python3
"""One speed run: time the rows of the published tables again, on this host, in one run.

A table's FPS column compares rows only when they were timed on one host, in one run, with the
same number of timed frames on an otherwise idle machine. This script gives every row that: each
``RESULT.json=MODEL`` pair (``reproduce.py --speed`` passes every row of the published tables) is
timed through :func:`pixbench.evaluate.speed.retime_result` with the same warm-up and timed frames,
and only the ``speed`` and ``environment`` sections of its result file (and the FPS target) are
rewritten; every row gets the same ``speed.run``, the UTC time the run started. A model file fed the
same way in several tables is timed once per frame size. Nothing is scored: the scores do not depend
on the host.

It refuses to start while the machine is busy (1-minute load average above ``MAX_LOAD``), unless
``--allow-busy``. Each row records the load average when its timing started and, in ``speed.other_cpu``,
the cores' worth of CPU that other processes took while its frames were timed; the table header gives
the range of the latter (the load average counts the run's own earlier rows too).

Usage (from anywhere; paths relative to the current folder)::

    python leaderboards/retime.py leaderboards/results/kodak/jpeg/identity.json=leaderboards/models/jpeg/identity.onnx
    python leaderboards/reproduce.py --speed             # every published row
    python leaderboards/reproduce.py --speed --dry-run   # the rows and the expected duration
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: Warm-up and timed frames of every row: those of `pixbench evaluate`.
WARMUP, RUNS = 2, 10
#: The busiest 1-minute load average at which a speed run starts.
MAX_LOAD = 0.5


@dataclass(frozen=True)
class Row:
    """A result file to re-time and the model file it scored."""

    result: Path
    model: Path


def expected_seconds(rows: list[Row], *, warmup: int, runs: int) -> tuple[float, int]:
    """The run's expected duration from the latencies the result files hold, and the rows without one.

    A model file timed at a frame size once is counted once, as the run times it once.
    """
    from pixbench.results import read_result

    seen, total, unknown = set(), 0.0, 0
    for row in rows:
        result = read_result(row.result)
        speed = result.speed
        if speed is None or speed.latency_ms_median_1080p is None:
            unknown += 1
            continue
        sizes = (("1080p", speed.latency_ms_median_1080p), (str(speed.native_size), speed.latency_ms_median_native))
        for size, latency in sizes:
            if latency is not None and (result.sha256, size) not in seen:
                seen.add((result.sha256, size))
                total += (warmup + runs) * float(latency) / 1000.0
    return total, unknown


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def retime_rows(
    rows: list[Row],
    *,
    warmup: int = WARMUP,
    runs: int = RUNS,
    threads: int | None = None,
    allow_busy: bool = False,
    say: Callable[[str], None] = print,
) -> str:
    """Time every row in one run and rewrite its result file; return the run's name (its UTC start).

    Raises:
        SystemExit: The machine is busy (without ``allow_busy``), or a model file is not the one scored.
    """
    from pixbench.errors import PixbenchError
    from pixbench.evaluate.speed import retime_result
    from pixbench.results import read_result, utc_now, write_result

    load = load_average()
    if load is not None and load > MAX_LOAD and not allow_busy:
        sys.exit(
            f"retime: the 1-minute load average is {load:.2f} (> {MAX_LOAD}): timings would not be those of an "
            "idle machine; stop the other work and rerun, or pass --allow-busy (the load is recorded per row)"
        )
    run, shared, started = utc_now(), {}, time.perf_counter()
    say(f"speed run {run}: {len(rows)} rows, {warmup} warm-up and {runs} timed frames each")
    for i, row in enumerate(rows, start=1):
        try:
            result = retime_result(
                read_result(row.result), row.model, warmup=warmup, runs=runs, run=run, threads=threads, shared=shared
            )
        except PixbenchError as exc:
            sys.exit(f"retime: {row.result}: {exc}")
        write_result(row.result, result)
        fps = result.speed.fps_1080p if result.speed is not None else None
        say(f"[{i}/{len(rows)}] {row.result}: {fps} FPS at 1080p ({time.perf_counter() - started:.0f} s so far)")
    return run


def _row(text: str) -> Row:
    result, sep, model = text.partition("=")
    if not sep or not result or not model:
        raise argparse.ArgumentTypeError(f"expected RESULT.json=MODEL, got {text!r}")
    return Row(Path(result), Path(model))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("rows", nargs="+", type=_row, metavar="RESULT.json=MODEL", help="a result file and its model file")
    p.add_argument("--warmup", type=int, default=WARMUP, help=f"untimed frames per size (default {WARMUP})")
    p.add_argument("--runs", type=int, default=RUNS, help=f"timed frames per size (default {RUNS})")
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads (default: every logical core)")
    p.add_argument("--allow-busy", action="store_true", help=f"start even above a load average of {MAX_LOAD}")
    p.add_argument("--dry-run", action="store_true", help="list the rows and the expected duration only")
    args = p.parse_args(argv)
    seconds, unknown = expected_seconds(args.rows, warmup=args.warmup, runs=args.runs)
    print(f"expected: about {seconds / 60:.0f} minutes" + (f" plus {unknown} rows never timed" if unknown else ""))
    if not args.dry_run:
        retime_rows(args.rows, warmup=args.warmup, runs=args.runs, threads=args.threads, allow_busy=args.allow_busy)


if __name__ == "__main__":
    main()
