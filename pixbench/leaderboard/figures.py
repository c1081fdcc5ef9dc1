"""Visual comparison figures for restoration leaderboards, built from ``<stem>.crops.png`` files.

``pixbench evaluate`` writes, beside each restoration result, a crops image of 3
rows (degraded input, model output, clean target) by up to 4 columns (128x128
crops at the centres of the first test samples). A figure puts these side by
side: one row per sample, columns ``degraded | model 1 | model 2 | ... | clean``
in leaderboard order, each crop magnified with nearest-neighbour so that single
pixels stay visible, and a header naming each column.

Only the crops files are read (never the dataset), and the figure is a pure
function of them, so the PNG bytes are deterministic for a given Pillow build.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pixbench.images import encode_png, read_png
from pixbench.leaderboard.group import Table, primary_column
from pixbench.leaderboard.render import fmt
from pixbench.results import Result, metric
from pixbench.tasks import Column

#: Models shown at most; more would make the figure too wide to read.
MAX_MODELS = 8
#: Largest figure file by default: a wide table shows fewer sample rows rather than a heavier file.
MAX_FIGURE_BYTES = 300_000
GAP = 4
HEADER_LINES = 2
FONT_SIZE = 14
BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)


@dataclass
class Crops:
    """One result's crops image cut into rows: ``degraded``, ``output`` and ``clean``, each ``(n, h, w, 3)``."""

    degraded: np.ndarray
    output: np.ndarray
    clean: np.ndarray
    samples: list[str]


def crops_path(result: Result) -> Path | None:
    """The crops PNG recorded in a result file (``crops.file``), else ``<stem>.crops.png`` if present."""
    name = result.crops.file if result.crops is not None else None
    path = (
        result.path.parent / name
        if name
        else result.path.with_name(result.path.name.removesuffix(".json") + ".crops.png")
    )
    return path if path.is_file() else None


def read_crops(result: Result, path: Path) -> Crops:
    """Cut a crops image into its three rows of tiles.

    The tile size comes from ``crops.size`` (``[h, w]`` or one number) where the
    result records it, else from the image height / 3 with square tiles.

    Raises:
        ValueError: The image does not divide into 3 rows of whole tiles.
    """
    image = read_png(path)
    if image.ndim != 3:
        raise ValueError(f"{path}: expected an RGB crops image, got shape {image.shape}")
    info = result.crops
    size = info.size if info is not None else None
    if isinstance(size, (list, tuple)) and len(size) == 2:
        tile_h, tile_w = int(size[0]), int(size[1])
    elif isinstance(size, (int, float)) and size > 0:
        tile_h = tile_w = int(size)
    else:
        tile_h = tile_w = image.shape[0] // 3
    height, width = image.shape[:2]
    if tile_h <= 0 or tile_w <= 0 or height != 3 * tile_h or width % tile_w:
        raise ValueError(f"{path}: a {width}x{height} image is not 3 rows of {tile_w}x{tile_h} crops")
    n = width // tile_w
    tiles = image.reshape(3, tile_h, n, tile_w, 3).transpose(0, 2, 1, 3, 4)
    recorded = info.samples if info is not None else None
    samples = [str(s) for s in recorded or []] or [f"crop {i + 1}" for i in range(n)]
    return Crops(degraded=tiles[0], output=tiles[1], clean=tiles[2], samples=samples[:n])


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType: its small bitmap font
        return ImageFont.load_default()


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> str:
    """``text``, cut with an ellipsis so that it fits in ``width`` pixels."""
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def compose(columns: list[tuple[str, str, np.ndarray]], *, zoom: int) -> np.ndarray:
    """Lay out labelled columns of tiles into one figure.

    Args:
        columns: ``(title, subtitle, tiles)`` per column; ``tiles`` is ``(n, h, w, 3)``
            uint8 and every column has the same shape.
        zoom: Nearest-neighbour magnification of every tile.

    Returns:
        The figure as an ``HxWx3`` uint8 array.
    """
    n, tile_h, tile_w = columns[0][2].shape[:3]
    cell_h, cell_w = tile_h * zoom, tile_w * zoom
    font = _font(FONT_SIZE)
    line_h = FONT_SIZE + 4
    header = HEADER_LINES * line_h + GAP
    width = len(columns) * cell_w + (len(columns) + 1) * GAP
    height = header + n * cell_h + (n + 1) * GAP
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for c, (title, subtitle, tiles) in enumerate(columns):
        x = GAP + c * (cell_w + GAP)
        draw.text((x, GAP), _fit(draw, title, font, cell_w), fill=INK, font=font)
        draw.text((x, GAP + line_h), _fit(draw, subtitle, font, cell_w), fill=INK, font=font)
        for r in range(n):
            zoomed = np.repeat(np.repeat(tiles[r], zoom, axis=0), zoom, axis=1)
            canvas.paste(Image.fromarray(np.ascontiguousarray(zoomed)), (x, header + GAP + r * (cell_h + GAP)))
    return np.asarray(canvas, dtype=np.uint8)


@dataclass
class Figure:
    """A comparison figure: PNG bytes (None if nothing could be drawn), a caption, and what was left out."""

    png: bytes | None
    caption: str
    notes: list[str]


def comparison_figure(table: Table, *, zoom: int = 2, max_bytes: int | None = MAX_FIGURE_BYTES) -> Figure:
    """The visual comparison PNG of a restoration table, and notes on what was left out.

    Columns follow the table's ranking. Crops line up only when they were taken
    on the same samples, so the figure uses the crops that most results share
    (same sample list and identical clean row; a tie goes to the better-ranked
    result), and leaves out, with a note, any result whose crops differ, are
    missing, or do not parse.

    With ``max_bytes``, sample rows are dropped from the bottom (never below one) until the
    PNG fits, and the caption says how many were shown.

    Returns:
        The figure; its ``png`` is None when no result has usable crops.
    """
    usable, notes = _usable_crops(table)
    if not usable:
        return Figure(None, "", notes)
    counts: dict[tuple, int] = {}
    for _, _, key in usable:
        counts[key] = counts.get(key, 0) + 1
    shared = max(counts, key=lambda k: counts[k])  # max() keeps the first (best-ranked) of equal counts
    reference = next(crops for _, crops, key in usable if key == shared)
    column = primary_column(table.task)
    models: list[tuple[str, str, np.ndarray]] = []
    for result, crops, key in usable:
        if key != shared:
            notes.append(f"figure: {result.model.name} left out: its crops are not of the same samples as the others")
        elif len(models) == MAX_MODELS:
            notes.append(f"figure: {result.model.name} left out: only {MAX_MODELS} models are shown")
        else:
            score = metric(result.model_metrics, column.key)
            models.append((result.model.name, _score_label(column, score), crops.output))
    degraded_score = metric(table.results[0].degraded_metrics, column.key)
    columns = [
        ("degraded input", _score_label(column, degraded_score), reference.degraded),
        *models,
        ("clean target", "reference", reference.clean),
    ]
    png, rows = _fitted_png(columns, len(reference.samples), zoom=zoom, max_bytes=max_bytes)
    shown = (
        ""
        if rows == len(reference.samples)
        else (f" ({rows} of the {len(reference.samples)} crops, to keep the file under {max_bytes // 1000} kB)")
    )
    caption = (
        f"Rows: crops at the centres of `{table.split}` samples {', '.join(reference.samples[:rows])}{shown}; "
        f"columns: degraded input, each model in table order, clean target; magnified {zoom}x (nearest)."
    )
    return Figure(png, caption, notes)


def _usable_crops(table: Table) -> tuple[list[tuple[Result, Crops, tuple]], list[str]]:
    """Each result whose crops image reads, its tiles, and the key that says which crops it shares; notes on the rest."""
    notes: list[str] = []
    usable: list[tuple[Result, Crops, tuple]] = []
    for result in table.results:
        path = crops_path(result)
        if path is None:
            notes.append(f"figure: {result.model.name} has no crops image beside {result.path.name}")
            continue
        try:
            crops = read_crops(result, path)
        except (ValueError, OSError) as exc:
            notes.append(f"figure: {result.model.name} left out: {exc}")
            continue
        usable.append((result, crops, (tuple(crops.samples), crops.clean.shape, crops.clean.tobytes())))
    return usable, notes


def _fitted_png(
    columns: list[tuple[str, str, np.ndarray]], rows: int, *, zoom: int, max_bytes: int | None
) -> tuple[bytes, int]:
    """The figure's PNG and the sample rows it shows: the last are dropped (never below one) until it fits."""
    png = encode_png(compose(columns, zoom=zoom))
    while max_bytes is not None and len(png) > max_bytes and rows > 1:
        rows -= 1
        png = encode_png(compose([(t, sub, tiles[:rows]) for t, sub, tiles in columns], zoom=zoom))
    return png, rows


def _score_label(column: Column, value: float | None) -> str:
    """``PSNR 27.50 dB``: the column's header with the value in its place."""
    name = column.header.removesuffix(" dB")
    return f"{name} {fmt(value, column.fmt)}" + (" dB" if name != column.header else "")
