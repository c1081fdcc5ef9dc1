#!/usr/bin/env python3
"""Reproduce the published leaderboards from the repository, through the ``pixbench`` command line.

For each benchmark in ``BENCHMARKS`` (``leaderboards/benchmark_table.py``, with the settings every
command line is built from) this runs, in order:

1. ``pixbench build-dataset``: the training set of each trained row from its training source (BSD68,
   or the 400 BSDS500 photos, which ``python tools/fetch_bsds400.py`` fetches first where they are
   absent) and one test set per test source of the benchmark (Kodak and Set14; Set5 and LIVE1 for
   detect; Classic5, LIVE1 or Set5 for the paper protocols);
2. ``pixbench train`` and ``pixbench export`` for each reference model, and ``pixbench combine`` for each
   row that combines two of them;
3. ``pixbench baseline`` for each classical baseline;
4. ``pixbench evaluate`` for every model on every test set;

and finally ``pixbench leaderboard`` over all result files (with ``--notes`` and ``--published``; it
also fills the generated blocks of ``leaderboards/README.md`` and ``docs/tasks/*.md``). Every step is a subprocess call of
the same ``pixbench`` command a user types, and each command is printed;
``leaderboards/results/COMMANDS.md`` lists every command of a full run, written by ``--commands``
from the same code (a test compares it with the committed file).

``--speed`` is the one step that is not a ``pixbench`` command: it times every row of the published
tables again on this host, in one run (``leaderboards/retime.py``), then renders the tables.

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
    python leaderboards/reproduce.py --commands          # write results/COMMANDS.md
    python leaderboards/reproduce.py --speed             # one speed run for every published row
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The benchmark table sits beside this script; this line also finds it when the script is loaded by path.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchmark_table import (  # noqa: E402
    BENCHMARKS,
    CHECKPOINT,
    EVAL_SPLIT,
    FETCH_SOURCES,
    FIGURE_SOURCES,
    JSON_BASELINES,
    NOTES,
    PUBLISHED,
    RECIPES_DIR,
    SEED,
    SPEED_SOURCES,
    TABLES_DIR,
    TEST_BUILD_ARGS,
    TEST_SOURCES,
    TRAIN_SOURCES,
    Baseline,
    Benchmark,
    Combined,
    Entry,
    Existing,
    Reuse,
    Trained,
)
from reproduce_args import parse_args  # noqa: E402
from rescore import rescored  # noqa: E402
from retime import Row, expected_seconds, retime_rows  # noqa: E402

from pixbench.results import read_result  # noqa: E402

#: The task pages whose generated blocks the leaderboard step fills (`pixbench leaderboard --prose`).
PROSE_DIR = Path("docs/tasks")


class Runner:
    """Runs (or, with ``dry_run``, prints) pixbench commands and records them."""

    def __init__(self, *, dry_run: bool, quiet: bool = False) -> None:
        self.dry_run, self.quiet = dry_run, quiet
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
        if not self.quiet:
            print(f"$ {line}", flush=True)
        if not self.dry_run:
            self._run([*self.pixbench, *words], line)

    def script(self, *words: str) -> None:
        """Run (or print) a Python script of the repository, ``python tools/...``, like a pixbench command."""
        line = shlex.join(words)
        self.log.append(line)
        if not self.quiet:
            print(f"$ {line}", flush=True)
        if not self.dry_run:
            self._run([sys.executable, *words[1:]] if words[0] == "python" else list(words), line)

    def _run(self, argv: list[str], line: str) -> None:
        done = subprocess.run(argv, cwd=REPO, check=False)
        if done.returncode != 0:
            sys.exit(
                f"reproduce: step failed (exit {done.returncode}): {line}\n"
                "fix the cause and rerun the same command; finished steps are skipped"
            )


def exists(path: Path, args: argparse.Namespace) -> bool:
    """Whether a step's output is there (never, when listing the commands of a full run: ``--commands``)."""
    return not args.fresh and (REPO / path).is_file()


def train_dir(bench: Benchmark, recipe: str, source: str, args: argparse.Namespace) -> Path:
    """The training dataset of ``recipe`` for ``bench`` built from training source ``source`` (``bsd68``).

    A recipe kept under ``recipes/history/`` (an earlier version a row was trained on) is named by its file.
    """
    name = bench.name if recipe == bench.recipe else f"{bench.name}-{Path(recipe).name}"
    return args.out.data / f"{name}-{source}"


def fetch_source(run: Runner, source: str, args: argparse.Namespace) -> None:
    """Fetch a training source that the repository does not hold (BSDS400), where its folder is absent."""
    if source not in FETCH_SOURCES:
        return
    folder, command = FETCH_SOURCES[source]
    if not args.fresh and (REPO / folder).is_dir():
        return
    if shlex.join(command) not in run.log:  # once per run, however many benchmarks train on it
        run.script(*command)


def test_dir(bench: Benchmark, source: str, args: argparse.Namespace) -> Path:
    """The test dataset of ``bench`` built from test source ``source``."""
    return args.out.data / f"{bench.name}-{source}"


def result_dir(bench: Benchmark, source: str, args: argparse.Namespace) -> Path:
    """Where the result files of ``bench`` on ``source`` go."""
    return args.out.results / source / bench.name


def build(run: Runner, bench: Benchmark, args: argparse.Namespace) -> None:
    trained = [e for e in bench.entries if isinstance(e, Trained)]
    pairs = dict.fromkeys((e.train_recipe or bench.recipe, e.train_source) for e in trained)
    for _, source in pairs:
        fetch_source(run, source, args)
    jobs = [
        (recipe, train_dir(bench, recipe, source, args), TRAIN_SOURCES[source], args.limit_train)
        for recipe, source in pairs
    ]
    jobs = [(*job, []) for job in jobs] + [
        (bench.recipe, test_dir(bench, source, args), spec, None, TEST_BUILD_ARGS)
        for source, spec in TEST_SOURCES.items()
        if source in args.sources and source in bench.sources
    ]
    for recipe, out, source, limit, more in jobs:
        if exists(out / "dataset.json", args) and not args.force:
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
    dataset = train_dir(bench, entry.train_recipe or bench.recipe, entry.train_source, args)
    run_dir = args.out.runs / bench.name / entry.name
    onnx_path = model_path(bench, entry, args)
    if "train" in steps:
        if exists(onnx_path, args) and not args.force:
            print(f"skip train: {onnx_path} exists")
        else:
            resume = ["--resume"] if exists(run_dir / "last.pt", args) and not args.force else []
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
        if exists(onnx_path, args) and not args.force:
            print(f"skip export: {onnx_path} exists")
        elif "train" not in steps and not (REPO / run_dir / CHECKPOINT).is_file() and not run.dry_run:
            # A partial run (`--steps export,...`) for a model whose training has not run yet.
            print(f"skip export: {run_dir / CHECKPOINT} does not exist yet")
        else:
            run("export", run_dir / CHECKPOINT, "-o", onnx_path)


def combine(run: Runner, bench: Benchmark, entry: Combined, args: argparse.Namespace) -> None:
    """``pixbench combine`` of two rows of ``bench`` (listed before it) into the row's model file."""
    path = model_path(bench, entry, args)
    rows = {e.name: e for e in bench.entries}
    members = [model_path(bench, rows[name], args) for name in (entry.first, entry.second)]
    if exists(path, args) and not args.force and (run.dry_run or members_unchanged(REPO / path, members)):
        print(f"skip combine: {path} exists")
        return
    missing = [m for m in members if not (REPO / m).is_file()]
    if missing and not run.dry_run:
        print(f"skip combine: {missing[0]} does not exist yet")
        return
    run("combine", *members, "--rule", entry.rule, "--name", entry.name, "-o", path)


def members_unchanged(combined: Path, members: list[Path]) -> bool:
    """The combined file names these member files by their current SHA-256 (a retrained member makes it stale)."""
    import hashlib
    import json

    import onnx

    props = {p.key: p.value for p in onnx.load(str(combined), load_external_data=False).metadata_props}
    recorded = [m.get("sha256") for m in json.loads(props.get("pixbench.model_args", "{}")).get("members", [])]
    current = [hashlib.sha256((REPO / m).read_bytes()).hexdigest() if (REPO / m).is_file() else None for m in members]
    return recorded == current


def model_path(bench: Benchmark, entry: Entry, args: argparse.Namespace) -> Path:
    if isinstance(entry, Existing):
        return Path(entry.path)
    if isinstance(entry, Reuse):
        return args.out.models / entry.benchmark / f"{entry.name}.onnx"
    suffix = JSON_BASELINES.get(entry.baseline, ".onnx") if isinstance(entry, Baseline) else ".onnx"
    return args.out.models / bench.name / f"{entry.name}{suffix}"


def evaluate(run: Runner, bench: Benchmark, entry: Entry, source: str, args: argparse.Namespace) -> None:
    result = result_dir(bench, source, args) / f"{entry.name}.json"
    if exists(result, args) and not (args.force or args.rescore):
        print(f"skip evaluate: {result} exists")
        return
    model = model_path(bench, entry, args)
    if not (REPO / model).is_file() and not run.dry_run:
        # Only a partial run gets here (`--steps baseline,evaluate` before training is done):
        # a full run stops at a failed train or export.
        print(f"skip evaluate: {model} does not exist yet")
        return
    limit = ["--limit", str(args.limit_eval)] if args.limit_eval else []
    speed = [] if source in SPEED_SOURCES and not args.rescore else ["--no-speed"]
    # timing options are dropped where speed is not measured; level filters (--factor 3) always apply
    eval_args = without_speed_options(entry.eval_args) if speed else entry.eval_args
    old = read_result(REPO / result) if args.rescore and not run.dry_run and (REPO / result).is_file() else None
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
    if not run.dry_run:
        rescored(REPO / result, old)
        record_curves(bench, entry, source, args)


#: Per-row `pixbench evaluate` options that only set how speed is measured (each takes a value).
SPEED_OPTIONS = ("--runs", "--warmup")


def without_speed_options(words: list[str]) -> list[str]:
    """A row's evaluate options without those that time it (kept: ``--factor 3``, ``--quality 10``)."""
    out, skip = [], False
    for word in words:
        if skip or word in SPEED_OPTIONS:
            skip = not skip
            continue
        out.append(word)
    return out


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


def record_curves(bench: Benchmark, entry: Entry, source: str, args: argparse.Namespace) -> None:
    """Copy a trained row's training curves (``curves.png``, ``metrics.csv``) beside its result, where the table links them."""
    if isinstance(entry, Trained):
        run_dir = args.out.runs / bench.name / entry.name
    elif isinstance(entry, Reuse):
        run_dir = args.out.runs / entry.benchmark / entry.name
    else:
        return
    for name, suffix in (("curves.png", ".curves.png"), ("metrics.csv", ".metrics.csv")):
        if (REPO / run_dir / name).is_file():
            target = REPO / result_dir(bench, source, args) / f"{entry.name}{suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(REPO / run_dir / name, target)


def leaderboard(run: Runner, args: argparse.Namespace) -> None:
    """Render the tables (and, for the published ones, the generated prose of the README and task pages)."""
    published = args.out.tables == TABLES_DIR
    notes = ["--notes", NOTES] if (REPO / NOTES).is_file() and published else []
    papers = ["--published", PUBLISHED] if (REPO / PUBLISHED).is_file() and published else []
    figures = [word for source in sorted(FIGURE_SOURCES) for word in ("--figure-source", source)]
    pages = sorted(p.relative_to(REPO) for p in (REPO / PROSE_DIR).glob("*.md")) if published else []
    prose = [word for page in pages for word in ("--prose", page.as_posix())]
    # crops at their own size (--zoom 1) keep each committed comparison figure near 300 kB
    run(
        "leaderboard",
        args.out.results,
        "-o",
        args.out.tables,
        "--strict",
        "--zoom",
        "1",
        *notes,
        *papers,
        *figures,
        *prose,
    )


def speed_rows(args: argparse.Namespace) -> list[Row]:
    """Every published row that carries FPS (the SPEED_SOURCES results), with its model file, for a speed run."""
    rows = []
    for bench in (b for b in BENCHMARKS if b.name in args.only.split(",")):
        for entry in bench.entries:
            if args.models and entry.name not in args.models.split(","):
                continue
            # a benchmark is timed only where it is published: the paper protocols have no Kodak table
            for source in sorted(SPEED_SOURCES & set(args.sources) & set(bench.sources)):
                result = REPO / result_dir(bench, source, args) / f"{entry.name}.json"
                if result.is_file():
                    rows.append(Row(result, REPO / model_path(bench, entry, args)))
                else:
                    print(f"skip speed: {result.relative_to(REPO)} does not exist")
    return rows


def speed(run: Runner, args: argparse.Namespace) -> None:
    """``--speed``: one timing run over every row (``retime.py``), then the tables."""
    rows = speed_rows(args)
    seconds, unknown = expected_seconds(rows, warmup=2, runs=10)
    print(
        f"speed run: {len(rows)} rows, about {seconds / 60:.0f} minutes"
        + (f" (+{unknown} never timed)" if unknown else "")
    )
    if args.dry_run:
        for row in rows:
            print(f"  {row.result.relative_to(REPO)} <- {row.model.relative_to(REPO)}")
        return
    retime_rows(rows, allow_busy=args.allow_busy)
    leaderboard(run, args)


def commands_markdown(log: list[str]) -> str:
    """``results/COMMANDS.md``: every command of a full run, as listed by the same code that runs them."""
    return (
        "# Commands of a full leaderboards/reproduce.py run (from the repository root)\n\n"
        "Written by `python leaderboards/reproduce.py --commands` from `leaderboards/benchmark_table.py` and the\n"
        "training configurations in `leaderboards/configs/`; `tests/test_leaderboard_reproduce.py` checks that this\n"
        "file is what that command writes. A run skips the steps whose outputs exist.\n\n"
        + "\n".join(f"    {line}" for line in log)
        + "\n"
    )


def record_commands(log: list[str], args: argparse.Namespace) -> None:
    """Write ``results/COMMANDS.md`` (:func:`commands_markdown`)."""
    record = REPO / args.out.results / "COMMANDS.md"
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text(commands_markdown(log), encoding="utf-8")
    print(f"wrote {record.relative_to(REPO)}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    run = Runner(dry_run=args.dry_run, quiet=args.commands)
    if args.speed:
        speed(run, args)
        return
    steps = set(args.steps.split(","))
    only = args.only.split(",")
    for bench in (b for b in BENCHMARKS if b.name in only):
        if not args.commands:
            print(f"== {bench.name} ({bench.recipe})", flush=True)
        if "build" in steps:
            build(run, bench, args)
        for entry in bench.entries:
            if args.models and entry.name not in args.models.split(","):
                continue
            if isinstance(entry, Trained):
                train_and_export(run, bench, entry, args, steps)
            elif isinstance(entry, Combined) and "export" in steps:
                combine(run, bench, entry, args)
            elif isinstance(entry, Baseline) and "baseline" in steps:
                path = model_path(bench, entry, args)
                if exists(path, args) and not args.force:
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
        leaderboard(run, args)
    if args.commands:
        record_commands(run.log, args)


if __name__ == "__main__":
    main()
