#!/usr/bin/env python3
"""Reproduce the published leaderboards from the repository, through the ``pixbench`` command line.

For each benchmark in ``BENCHMARKS`` (``leaderboards/benchmark_table.py``, with the settings every
command line is built from) this runs, in order:

1. ``pixbench build-dataset``: the training set from BSD68 and one test set per test source of the
   benchmark (Kodak and Set14; Classic5, LIVE1 or Set5 for the paper protocols);
2. ``pixbench train`` and ``pixbench export`` for each reference model;
3. ``pixbench baseline`` for each classical baseline;
4. ``pixbench evaluate`` for every model on every test set;

and finally ``pixbench leaderboard`` over all result files (with ``--notes`` and ``--published``). Every step is a
subprocess call of the same ``pixbench`` command a user types, and each command is
printed and recorded in ``leaderboards/results/COMMANDS.md``.

Steps are resumable: a step whose output already exists is skipped (``--force``
redoes it), an interrupted training run is continued with ``--resume``. Each trained
row is trained by its configuration in ``leaderboards/configs/<row>.yaml``. A run
shortened with ``--steps-budget`` or the image limits writes under
``leaderboards/work/smoke/`` (unless ``--publish``), so it never replaces a published
model, result or table.

Usage (from anywhere; paths are relative to the repository root)::

    python leaderboards/reproduce.py                     # everything, as published
    python leaderboards/reproduce.py --only jpeg --steps-budget 20 --limit-train 20
    python leaderboards/reproduce.py --steps evaluate,leaderboard
    python leaderboards/reproduce.py --dry-run           # print the commands only
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The benchmark table sits beside this script; this line also finds it when the script is loaded by path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark_table import (  # noqa: E402
    BENCHMARKS,
    CHECKPOINT,
    EVAL_SPLIT,
    JSON_BASELINES,
    MODELS_DIR,
    NOTES,
    PUBLISHED,
    RECIPES_DIR,
    RESULTS_DIR,
    SEED,
    SPEED_SOURCES,
    STEPS,
    TABLES_DIR,
    TEST_BUILD_ARGS,
    TEST_SOURCES,
    TRAIN_SOURCE,
    WORK_DIR,
    Baseline,
    Benchmark,
    Existing,
    Reuse,
    Trained,
)


class Runner:
    """Runs (or, with ``dry_run``, prints) pixbench commands and records them."""

    def __init__(self, *, dry_run: bool) -> None:
        self.dry_run = dry_run
        self.log: list[str] = []
        exe = Path(sys.executable).with_name("pixbench")
        self.pixbench = (
            [str(exe)]
            if exe.is_file()
            else ([shutil.which("pixbench")] if shutil.which("pixbench") else [sys.executable, "-m", "pixbench"])
        )

    def __call__(self, *args: str | Path) -> None:
        words = [str(a) for a in args]
        line = "pixbench " + shlex.join(words)
        self.log.append(line)
        print(f"$ {line}", flush=True)
        if not self.dry_run:
            done = subprocess.run([*self.pixbench, *words], cwd=REPO, check=False)
            if done.returncode != 0:
                sys.exit(
                    f"reproduce: step failed (exit {done.returncode}): {line}\n"
                    "fix the cause and rerun the same command; finished steps are skipped"
                )


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


def train_dir(bench: Benchmark, recipe: str, args: argparse.Namespace) -> Path:
    """The BSD68 training dataset of ``recipe`` for ``bench``."""
    name = bench.name if recipe == bench.recipe else f"{bench.name}-{recipe}"
    return args.out.data / f"{name}-bsd68"


def test_dir(bench: Benchmark, source: str, args: argparse.Namespace) -> Path:
    """The test dataset of ``bench`` built from test source ``source``."""
    return args.out.data / f"{bench.name}-{source}"


def result_dir(bench: Benchmark, source: str, args: argparse.Namespace) -> Path:
    """Where the result files of ``bench`` on ``source`` go."""
    return args.out.results / source / bench.name


def build(run: Runner, bench: Benchmark, args: argparse.Namespace) -> None:
    train_recipes = dict.fromkeys(e.train_recipe or bench.recipe for e in bench.entries if isinstance(e, Trained))
    jobs = [(recipe, train_dir(bench, recipe, args), TRAIN_SOURCE, args.limit_train) for recipe in train_recipes]
    jobs = [(*job, []) for job in jobs] + [
        (bench.recipe, test_dir(bench, source, args), spec, None, TEST_BUILD_ARGS)
        for source, spec in TEST_SOURCES.items()
        if source in args.sources and source in bench.sources
    ]
    for recipe, out, source, limit, more in jobs:
        if (REPO / out / "dataset.json").is_file() and not args.force:
            print(f"skip build: {out} is complete")
            continue
        shipped = RECIPES_DIR / f"{recipe}.yaml"
        extra = ["--limit", str(limit)] if limit else []
        overwrite = ["--overwrite"] if args.force else []
        run(
            "build-dataset",
            shipped if (REPO / shipped).is_file() else recipe,
            "-o",
            out,
            "--source",
            source,
            *extra,
            *overwrite,
            *bench.build_args,
            *more,
        )


def train_and_export(run: Runner, bench: Benchmark, entry: Trained, args: argparse.Namespace, steps: set[str]) -> None:
    dataset = train_dir(bench, entry.train_recipe or bench.recipe, args)
    run_dir = args.out.runs / bench.name / entry.name
    onnx_path = model_path(bench, entry, args)
    if "train" in steps:
        if (REPO / onnx_path).is_file() and not args.force:
            print(f"skip train: {onnx_path} exists")
        else:
            resume = ["--resume"] if (REPO / run_dir / "last.pt").is_file() and not args.force else []
            device = ["--device", args.device] if args.device else []
            budget = ["--steps", str(args.steps_budget)] if args.steps_budget else []
            run(
                "train",
                entry.model,
                "--config",
                entry.config,
                "--dataset",
                dataset,
                "-o",
                run_dir,
                *budget,
                "--seed",
                str(SEED),
                *device,
                *resume,
            )
    if "export" in steps:
        if (REPO / onnx_path).is_file() and not args.force:
            print(f"skip export: {onnx_path} exists")
        elif "train" not in steps and not (REPO / run_dir / CHECKPOINT).is_file() and not run.dry_run:
            # A partial run (`--steps export,...`) for a model whose training has not run yet.
            print(f"skip export: {run_dir / CHECKPOINT} does not exist yet")
        else:
            run("export", run_dir / CHECKPOINT, "-o", onnx_path)


def model_path(bench: Benchmark, entry: Trained | Baseline | Reuse | Existing, args: argparse.Namespace) -> Path:
    if isinstance(entry, Existing):
        return Path(entry.path)
    if isinstance(entry, Reuse):
        return args.out.models / entry.benchmark / f"{entry.name}.onnx"
    suffix = JSON_BASELINES.get(entry.baseline, ".onnx") if isinstance(entry, Baseline) else ".onnx"
    return args.out.models / bench.name / f"{entry.name}{suffix}"


def evaluate(
    run: Runner, bench: Benchmark, entry: Trained | Baseline | Reuse | Existing, source: str, args: argparse.Namespace
) -> None:
    result = result_dir(bench, source, args) / f"{entry.name}.json"
    if (REPO / result).is_file() and not args.force:
        print(f"skip evaluate: {result} exists")
        return
    model = model_path(bench, entry, args)
    if not (REPO / model).is_file() and not run.dry_run:
        # Only a partial run gets here (`--steps baseline,evaluate` before training is done):
        # a full run stops at a failed train or export.
        print(f"skip evaluate: {model} does not exist yet")
        return
    limit = ["--limit", str(args.limit_eval)] if args.limit_eval else []
    speed = [] if source in SPEED_SOURCES else ["--no-speed"]
    eval_args = [] if speed else entry.eval_args  # per-row options only set how speed is measured
    run(
        "evaluate",
        model,
        "--dataset",
        test_dir(bench, source, args),
        "--split",
        EVAL_SPLIT,
        "-o",
        result,
        *limit,
        *bench.eval_args,
        *eval_args,
        *speed,
    )


def record_dataset(bench: Benchmark, source: str, args: argparse.Namespace) -> None:
    """Copy the scored test set's ``dataset.json`` (no pixels) beside the results.

    It names the encoders whose bytes the fingerprint depends on, so a rebuild elsewhere
    can tell a real mismatch from a different PNG/JPEG library (``tests/test_published.py``).
    """
    manifest = REPO / test_dir(bench, source, args) / "dataset.json"
    if manifest.is_file():
        target = REPO / result_dir(bench, source, args) / "dataset.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(manifest, target)


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
    p.add_argument("--limit-train", type=int, default=None, help="use only the first N BSD68 images for training")
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
    args = p.parse_args(argv)
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


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    steps = set(args.steps.split(","))
    only = args.only.split(",")
    run = Runner(dry_run=args.dry_run)
    for bench in (b for b in BENCHMARKS if b.name in only):
        print(f"== {bench.name} ({bench.recipe})", flush=True)
        if "build" in steps:
            build(run, bench, args)
        for entry in bench.entries:
            if args.models and entry.name not in args.models.split(","):
                continue
            if isinstance(entry, Trained):
                train_and_export(run, bench, entry, args, steps)
            elif isinstance(entry, Baseline) and "baseline" in steps:
                path = model_path(bench, entry, args)
                if (REPO / path).is_file() and not args.force:
                    print(f"skip baseline: {path} exists")
                else:
                    run("baseline", entry.baseline, "-o", path, *entry.args)
            if "evaluate" in steps:
                for source in (s for s in args.sources if s in bench.sources):
                    evaluate(run, bench, entry, source, args)
        if "evaluate" in steps and not args.dry_run:
            for source in (s for s in args.sources if s in bench.sources):
                record_dataset(bench, source, args)
    if "leaderboard" in steps:
        published = args.out.tables == TABLES_DIR
        notes = ["--notes", NOTES] if (REPO / NOTES).is_file() and published else []
        papers = ["--published", PUBLISHED] if (REPO / PUBLISHED).is_file() and published else []
        # crops at their own size (--zoom 1) keep each committed comparison figure near 300 kB
        run("leaderboard", args.out.results, "-o", args.out.tables, "--strict", "--zoom", "1", *notes, *papers)
    if run.log and not args.dry_run:
        record = REPO / args.out.results / "COMMANDS.md"
        record.parent.mkdir(parents=True, exist_ok=True)
        previous = record.read_text(encoding="utf-8").splitlines()[2:] if record.is_file() else []
        lines = list(dict.fromkeys([*previous, *(f"    {line}" for line in run.log)]))
        record.write_text(
            "# Commands run by leaderboards/reproduce.py (from the repository root)\n\n" + "\n".join(lines) + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
