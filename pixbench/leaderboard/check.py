"""``pixbench leaderboard --check DIR``: does a published leaderboard folder agree with itself?

For every result file under ``DIR/results`` it checks that

- the model file it names, where one of that name lies under ``DIR/models``, has the recorded sha256;
- the ``dataset.json`` beside it has the recorded dataset fingerprint and recipe;
- its per-sample file exists and holds as many scored samples as the result says, with the same
  mean of the primary metric;

then it renders every table again from the results (as ``pixbench leaderboard --strict`` with
``DIR/notes.json`` and ``DIR/published.yaml``) and compares each Markdown cell, note and CSV value
with the committed one, and each line of the breakdown tables (``<stem>-by-<column>``);
it checks that every link of every Markdown page in ``DIR`` leads to a file that exists; and it
compares every generated block of ``DIR/README.md`` and of the given prose files
(:mod:`pixbench.leaderboard.prose`) with a fresh rendering.

Figures are not compared (their bytes depend on the Pillow and matplotlib builds), only linked.
Each disagreement is one line naming the file, the row and what differs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from pixbench.leaderboard.group import Table, group_results
from pixbench.leaderboard.notes import read_notes
from pixbench.leaderboard.prose import find_blocks, prose_disagreements
from pixbench.leaderboard.published import read_published
from pixbench.leaderboard.write import build_leaderboards
from pixbench.results import Result, ResultFileError, collect_result_files, read_result, read_samples, result_value
from pixbench.tasks import primary_metric

#: A Markdown link target: ``](<path>)`` or ``](path)``.
LINK = re.compile(r"\]\(<([^>]+)>\)|\]\(([^)<\s]+)\)")


def check_leaderboards(folder: str | Path, *, prose: Iterable[str | Path] = ()) -> list[str]:
    """Every disagreement in a leaderboard folder, one line each; empty when everything agrees.

    Raises:
        ResultFileError: ``folder`` has no ``results`` folder with result files.
    """
    folder = Path(folder)
    paths = collect_result_files([folder / "results"]) if (folder / "results").is_dir() else []
    if not paths:
        raise ResultFileError(f"--check {folder}: no result files under {folder / 'results'}")
    problems: list[str] = []
    results = []
    for path in paths:
        try:
            results.append(read_result(path))
        except ResultFileError as exc:
            problems.append(str(exc))
    hashes = _model_hashes(folder / "models")
    for result in results:
        problems += _result_problems(result, folder, hashes)
    tables, _ = group_results(results)
    problems += _table_problems(folder)
    problems += _link_problems(folder)
    documents = [folder / "README.md", *map(Path, prose)]
    for document in dict.fromkeys(documents):
        if document.is_file() and (document != folder / "README.md" or find_blocks(document.read_text("utf-8"), "")):
            problems += prose_disagreements(document, tables, folder)
    return problems


def _model_hashes(models: Path) -> dict[str, list[tuple[Path, str]]]:
    """Every file under ``models`` by name, with its sha256 (hex)."""
    found: dict[str, list[tuple[Path, str]]] = {}
    if models.is_dir():
        for path in sorted(p for p in models.rglob("*") if p.is_file()):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            found.setdefault(path.name, []).append((path, digest))
    return found


def _result_problems(result: Result, folder: Path, hashes: dict[str, list[tuple[Path, str]]]) -> list[str]:
    """What disagrees between one result file, its model file, its dataset manifest and its per-sample file."""
    where = result.path.relative_to(folder) if result.path is not None else "?"
    problems = []
    candidates = hashes.get(result.model.file or "", [])
    if candidates and not any(digest == result.sha256 for _, digest in candidates):
        files = ", ".join(f"{p.relative_to(folder)} {d[:12]}" for p, d in candidates)
        problems.append(f"{where}: model sha256 {result.sha256[:12]} matches no model file of that name ({files})")
    manifest = result.path.parent / "dataset.json" if result.path is not None else None
    if manifest is None or not manifest.is_file():
        problems.append(f"{where}: no dataset.json beside it to confirm fingerprint {result.fingerprint}")
    else:
        problems += _manifest_problems(result, manifest, where)
    problems += _samples_problems(result, where)
    return problems


def _manifest_problems(result: Result, manifest: Path, where: object) -> list[str]:
    try:
        info = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return [f"{where}: dataset.json beside it is unreadable ({exc})"]
    problems = []
    if info.get("fingerprint") != result.fingerprint:
        problems.append(
            f"{where}: dataset fingerprint {result.fingerprint} but dataset.json beside it has {info.get('fingerprint')}"
        )
    recipe = info.get("recipe") or {}
    if (recipe.get("name"), recipe.get("version")) != (result.recipe, result.version):
        problems.append(
            f"{where}: recipe {result.recipe}@{result.version} but dataset.json beside it has "
            f"{recipe.get('name')}@{recipe.get('version')}"
        )
    return problems


def _samples_problems(result: Result, where: object) -> list[str]:
    try:
        samples = read_samples(result)
    except ResultFileError as exc:
        return [f"{where}: {exc}"]
    if samples is None:
        return [f"{where}: its per-sample file is missing"]
    problems = []
    if result.samples is not None and len(samples.ids) != result.samples:
        problems.append(f"{where}: {result.samples} samples, but its per-sample file has {len(samples.ids)} rows")
    key = primary_metric(result.task)
    values, recorded = samples.values(key), result_value(result, key)
    if values is not None and recorded is not None and math.isfinite(recorded):
        finite = values[np.isfinite(values)]
        mean = float(finite.mean()) if finite.size else math.nan
        if not math.isclose(mean, recorded, rel_tol=1e-9, abs_tol=1e-9):
            problems.append(f"{where}: {key} {recorded!r}, but its per-sample file averages {mean!r}")
    return problems


def _table_problems(folder: Path) -> list[str]:
    """Each table rendered again from the results, compared with the committed Markdown and CSV."""
    notes = read_notes(folder / "notes.json") if (folder / "notes.json").is_file() else None
    papers = read_published(folder / "published.yaml") if (folder / "published.yaml").is_file() else None
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / folder.name
        out.mkdir()
        _copy_results(folder / "results", out / "results")
        try:
            written, _ = build_leaderboards(
                [out / "results"], out, strict=True, figures=False, notes=notes, published=papers
            )
        except ResultFileError as exc:
            return [f"{folder}: the tables cannot be rendered again: {exc}"]
        problems = []
        fresh = {w.table.stem: w.table for w in written}
        # the breakdown tables and the pages across sources, compared line by line
        levels = {p.stem for p in out.glob("*.csv")} - set(fresh)
        committed = {p.stem for p in folder.glob("*.csv")}
        for stem in sorted(committed - set(fresh) - levels):
            problems.append(f"{stem}.csv: no result files make this table")
        for stem, table in sorted(fresh.items()):
            problems += _compare_table(folder, out, stem, table)
        for stem in sorted(levels):
            problems += _compare_levels(folder, out, stem)
        if (out / "index.md").read_text("utf-8") != _read(folder / "index.md"):
            problems.append("index.md: differs from the index rendered from the results")
    return problems


def _copy_results(source: Path, target: Path) -> None:
    """The results folder copied for rendering; images become empty files (only their presence is read)."""
    for path in source.rglob("*"):
        if path.is_file():
            copy = target / path.relative_to(source)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(b"" if path.suffix == ".png" else path.read_bytes())


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def _compare_table(folder: Path, out: Path, stem: str, table: Table) -> list[str]:
    if not (folder / f"{stem}.md").is_file():
        return [f"{stem}.md: missing; the results make this table"]
    problems = _compare_csv(stem, _read(out / f"{stem}.csv"), _read(folder / f"{stem}.csv"))
    mine, fresh = _without_pictures(_read(folder / f"{stem}.md")), _without_pictures(_read(out / f"{stem}.md"))
    problems += _compare_grid(stem, _grid(mine), _grid(fresh))
    mine_text = [line for line in mine if not line.startswith("|")]
    fresh_text = [line for line in fresh if not line.startswith("|")]
    problems += [
        f"{stem}.md: reads {line!r}, which the results do not give" for line in mine_text if line not in fresh_text
    ]
    problems += [f"{stem}.md: lacks {line!r}, which the results give" for line in fresh_text if line not in mine_text]
    return problems


def _compare_levels(folder: Path, out: Path, stem: str) -> list[str]:
    """A breakdown table (``<stem>-by-<column>``): its CSV values, and its Markdown line by line."""
    if not (folder / f"{stem}.md").is_file():
        return [f"{stem}.md: missing; the results make this table"]
    problems = _compare_csv(stem, _read(out / f"{stem}.csv"), _read(folder / f"{stem}.csv"))
    mine, fresh = _read(folder / f"{stem}.md").split("\n"), _read(out / f"{stem}.md").split("\n")
    problems += [f"{stem}.md: reads {line!r}, which the results do not give" for line in mine if line not in fresh]
    problems += [f"{stem}.md: lacks {line!r}, which the results give" for line in fresh if line not in mine]
    return problems


def _without_pictures(text: str) -> list[str]:
    """A table page's lines without its images, their captions and the notes on figures and plots."""
    lines, out, skip = text.split("\n"), [], False
    for line in lines:
        if skip:
            skip = bool(not line.strip())  # the caption is the first non-empty line after the image
            continue
        if line.startswith("!["):
            skip = True
            continue
        if line.startswith(("- figure: ", "- speed plot: ")) or line.startswith(("Rows: crops", "Speed against")):
            continue
        out.append(line)
    while out and not out[-1].strip():
        out.pop()
    return out


def _grid(lines: list[str]) -> dict[str, dict[str, str]]:
    """The table grid by row (``#`` and model cells) and header."""
    rows = [line for line in lines if line.startswith("|")]
    if len(rows) < 2:
        return {}
    headers = [h.strip() for h in rows[0].strip("|").split(" | ")]
    grid = {}
    for line in rows[2:]:
        cells = [c.strip() for c in line.strip().removeprefix("| ").removesuffix(" |").split(" | ")]
        row = dict(zip(headers, cells))
        grid[f"{row.get('#', '')} {row.get('model', '')}".strip()] = row
    return grid


def _compare_grid(stem: str, mine: dict[str, dict[str, str]], fresh: dict[str, dict[str, str]]) -> list[str]:
    problems = []
    mine_headers = list(next(iter(mine.values()), {}))
    fresh_headers = list(next(iter(fresh.values()), {}))
    if mine_headers != fresh_headers:
        problems.append(f"{stem}.md: columns {mine_headers} are not those the results give, {fresh_headers}")
    for row in mine.keys() - fresh.keys():
        problems.append(f"{stem}.md: row '{row}' is not what the results give")
    for row in fresh.keys() - mine.keys():
        problems.append(f"{stem}.md: row '{row}' is missing")
    for row in sorted(mine.keys() & fresh.keys()):
        for header, value in fresh[row].items():
            if header in mine[row] and mine[row][header] != value:
                problems.append(
                    f"{stem}.md, row '{row}', column '{header}': reads {mine[row].get(header)!r}, the results give {value!r}"
                )
    return problems


def _compare_csv(stem: str, fresh: str, mine: str) -> list[str]:
    fresh_rows = list(csv.DictReader(io.StringIO(fresh)))
    mine_rows = list(csv.DictReader(io.StringIO(mine)))
    if [r.get("model") for r in fresh_rows] != [r.get("model") for r in mine_rows]:
        return [f"{stem}.csv: rows differ from those the results give"]
    problems = []
    for f_row, m_row in zip(fresh_rows, mine_rows):
        for key, value in f_row.items():
            if m_row.get(key) != value:
                problems.append(
                    f"{stem}.csv, row '{f_row.get('model')}', column '{key}': reads {m_row.get(key)!r}, "
                    f"the results give {value!r}"
                )
    return problems


def _link_problems(folder: Path) -> list[str]:
    """Every relative link of the folder's Markdown pages that leads to no file."""
    problems = []
    for page in sorted(folder.glob("*.md")):
        for match in LINK.finditer(page.read_text(encoding="utf-8")):
            target = (match.group(1) or match.group(2)).split("#", 1)[0]
            if not target or "://" in target or target.startswith("mailto:"):
                continue
            if not (page.parent / target).exists():
                problems.append(f"{page.name}: links {target}, which does not exist")
    return problems
