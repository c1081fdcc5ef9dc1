"""The options of ``leaderboards/reproduce.py`` and where its outputs go."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from benchmark_table import BENCHMARKS, MODELS_DIR, RESULTS_DIR, STEPS, TABLES_DIR, TEST_SOURCES, WORK_DIR


@dataclass
class Outputs:
    """Where models, results, tables and training runs go."""

    models: Path = MODELS_DIR
    results: Path = RESULTS_DIR
    tables: Path = TABLES_DIR
    runs: Path = WORK_DIR / "runs"
    data: Path = WORK_DIR / "data"

    @classmethod
    def smoke(cls) -> Outputs:
        root = WORK_DIR / "smoke"
        return cls(
            models=root / "models",
            results=root / "results",
            tables=root / "tables",
            runs=root / "runs",
            data=root / "data",
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    names = [b.name for b in BENCHMARKS]
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--only",
        default=",".join(names),
        help=f"comma-separated benchmarks to run (default: all of {', '.join(names)})",
    )
    p.add_argument(
        "--models",
        default=None,
        help="comma-separated model names (the row names, e.g. espcn-x4,identity) to run; default: all",
    )
    p.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated steps (default: {','.join(STEPS)})")
    p.add_argument(
        "--sources",
        default=",".join(TEST_SOURCES),
        help=f"comma-separated test sources to build and score (default: {','.join(TEST_SOURCES)})",
    )
    p.add_argument(
        "--steps-budget",
        type=int,
        default=None,
        help="override every model's training budget in optimiser steps (e.g. 20 for a smoke run)",
    )
    p.add_argument("--limit-train", type=int, default=None, help="use only the first N images of each training source")
    p.add_argument(
        "--limit-eval",
        type=int,
        default=None,
        help="score only N test samples (quick check; such results are not for publishing)",
    )
    p.add_argument("--device", default=None, help="training device passed to `pixbench train --device`")
    p.add_argument("--force", action="store_true", help="redo steps whose outputs already exist")
    p.add_argument(
        "--publish",
        action="store_true",
        help="write into the published folders even with --steps-budget/--limit-*; without it such "
        f"shortened runs go to {WORK_DIR}/smoke/ so they never replace published files",
    )
    p.add_argument("--dry-run", action="store_true", help="print the commands without running them")
    p.add_argument(
        "--commands",
        action="store_true",
        help="write results/COMMANDS.md, every command of a full run (all benchmarks, steps and sources), and run nothing",
    )
    p.add_argument(
        "--speed",
        action="store_true",
        help="time every row of the published tables again on this host in one run (retime.py), then render the "
        "tables; with --only/--models, those rows only; with --dry-run, list them and the expected duration",
    )
    p.add_argument("--allow-busy", action="store_true", help="--speed: start even when the machine is busy")
    p.add_argument(
        "--rescore",
        action="store_true",
        help="score every selected row again (evaluate --no-speed, even where the result exists) and keep each "
        "result's recorded speed and environment: scores do not depend on the host (re-time with --speed)",
    )
    args = p.parse_args(argv)
    args.fresh = args.commands
    if args.commands:
        args.dry_run, args.only, args.models, args.steps = True, ",".join(names), None, ",".join(STEPS)
        args.sources = ",".join(TEST_SOURCES)
    args.sources = args.sources.split(",")
    unknown_sources = sorted(set(args.sources) - set(TEST_SOURCES))
    if unknown_sources:
        p.error(f"unknown source(s) {unknown_sources} (known: {list(TEST_SOURCES)})")
    unknown = sorted(set(args.only.split(",")) - set(names))
    bad_steps = sorted(set(args.steps.split(",")) - set(STEPS))
    if unknown or bad_steps:
        p.error(
            f"unknown benchmark(s) {unknown} (known: {names})"
            if unknown
            else f"unknown step(s) {bad_steps} (known: {list(STEPS)})"
        )
    shortened = args.steps_budget is not None or args.limit_train or args.limit_eval
    args.out = Outputs.smoke() if shortened and not args.publish else Outputs()
    return args
