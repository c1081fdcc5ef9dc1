"""Visual comparison figures for restoration leaderboards, built from ``<stem>.crops.png`` files.

``pixbench evaluate`` writes, beside each restoration result, a crops image of 3 rows
(degraded input, model output, clean target) by up to 4 columns: a crop at the centre of
the first scored sample of each of the first 4 source photos (results written before
that hold 4 crops of the first photo). A figure puts these side by side: one row per
crop, columns ``degraded | model 1 | model 2 | ... | clean`` in leaderboard order.

- Every crop is labelled with **its own PSNR** (RGB, over the crop), computed from the
  strip's pixels (the strip holds the clean crop, so this works for every strip ever
  written), and models with their gain over the degraded input on that crop. The table's
  mean is never shown as a crop's value.
- **Magnified where the difference is small**: a row on whose crop no model gains
  :data:`MAGNIFY`'s thresholds over the degraded input shows the part of the crop where the
  degraded input is furthest from the clean one, enlarged 2x or 3x (nearest neighbour), at
  the size of the whole crop; the row's heading says so.
- **Names are never cut**: a column title wraps (at ``-``, ``_``, ``.``, ``/`` and spaces, or
  between letters where a word alone is wider than the column).

Only the crops files are read (never the dataset), and the figure is a pure function of
them, so the PNG bytes are deterministic for a given Pillow and FreeType build.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from pixbench.images import encode_png, read_png
from pixbench.leaderboard.group import Table
from pixbench.metrics import psnr
from pixbench.results import Result, sample_image
from pixbench.sources.kodak import KODAK_PIXEL_SHA256

#: Models shown at most; more would make the figure too wide to read.
MAX_MODELS = 8
#: Largest figure file by default: a wide table shows fewer rows (never fewer than :data:`MIN_ROWS`).
MAX_FIGURE_BYTES = 300_000
#: Rows kept however large the file: a figure compares at least two photos where it has them.
MIN_ROWS = 2
#: ``(gain under, factor)``, first match wins: a row whose best model gains less than ``gain`` dB over
#: the degraded input on its crop shows ``1/factor`` of the crop's side, enlarged ``factor`` times.
MAGNIFY = ((1.0, 3), (3.0, 2))
GAP = 4
FONT_SIZE = 14
LINE = FONT_SIZE + 4
BACKGROUND = (255, 255, 255)
INK = (0, 0, 0)
#: Where a column title may wrap: after these characters.
_BREAKS = re.compile(r"(?<=[-_./ ])")
#: The Kodak photos by the start of their pixel hash, which begins the id of every sample cut from them.
_KODAK = {sha[:16]: f"{stem}.png" for stem, sha in KODAK_PIXEL_SHA256.items()}


@dataclass
class Crops:
    """One result's crops image cut into rows: ``degraded``, ``output`` and ``clean``, each ``(n, h, w, 3)``.

    ``samples`` and ``photos`` name each crop's sample and source photo (:func:`photo_name`).
    """

    degraded: np.ndarray
    output: np.ndarray
    clean: np.ndarray
    samples: list[str]
    photos: list[str] = field(default_factory=list)


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
    samples = ([str(s) for s in recorded or []] or [f"crop {i + 1}" for i in range(n)])[:n]
    per_crop = (info.per_crop if info is not None else None) or []
    sources = {str(c.get("sample_id")): c.get("source") for c in per_crop if isinstance(c, dict)}
    photos = [photo_name(s, sources.get(s)) for s in samples]
    return Crops(degraded=tiles[0], output=tiles[1], clean=tiles[2], samples=samples, photos=photos)


def photo_name(sample_id: str, recorded: str | None = None) -> str:
    """The source photo of a crop: the ``source`` its result records, else the Kodak file whose pixel hash
    begins the sample id, else that start of the hash (``sample_id`` is ``<16 hex>-<index>``)."""
    image = sample_image(sample_id)
    return str(recorded or _KODAK.get(image, image))


def crop_psnr(clean: np.ndarray, test: np.ndarray) -> float:
    """PSNR (RGB, 8-bit) of one crop against its clean crop, as ``crops.per_crop`` records it."""
    return psnr(clean, test, data_range=255)


def magnification(gain: float) -> int:
    """The factor a row is enlarged by when its best model gains ``gain`` dB on its crop (:data:`MAGNIFY`)."""
    for under, factor in MAGNIFY:
        if not gain >= under:  # NaN (nothing to gain) magnifies too
            return factor
    return 1


def worst_window(degraded: np.ndarray, clean: np.ndarray, size: tuple[int, int]) -> tuple[int, int]:
    """Top-left corner of the ``size`` window where ``degraded`` differs most from ``clean`` (squared error).

    Windows are tried on a grid of a quarter of their side (and flush with the far edges); the
    first of equal sums wins, so the choice is deterministic.
    """
    error = ((degraded.astype(np.int64) - clean.astype(np.int64)) ** 2).sum(axis=2)
    total = np.pad(error.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    (h, w), (wh, ww) = error.shape, size
    ys = sorted({*range(0, h - wh + 1, max(1, wh // 4)), h - wh})
    xs = sorted({*range(0, w - ww + 1, max(1, ww // 4)), w - ww})
    best, corner = -1, (0, 0)
    for y in ys:
        for x in xs:
            value = total[y + wh, x + ww] - total[y, x + ww] - total[y + wh, x] + total[y, x]
            if value > best:
                best, corner = value, (y, x)
    return corner


def enlarge(tile: np.ndarray, corner: tuple[int, int], factor: int) -> np.ndarray:
    """The ``1/factor`` part of ``tile`` at ``corner``, enlarged ``factor`` times (nearest) to the tile's size."""
    h, w = tile.shape[:2]
    y, x = corner
    part = tile[y : y + math.ceil(h / factor), x : x + math.ceil(w / factor)]
    return np.repeat(np.repeat(part, factor, axis=0), factor, axis=1)[:h, :w]


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow without FreeType: its small bitmap font
        return ImageFont.load_default()


def wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    """``text`` in lines no wider than ``width`` pixels, every character kept.

    Lines break after ``-``, ``_``, ``.``, ``/`` or a space; a piece wider than a line on its own is
    broken between letters.
    """
    pieces: list[str] = []
    for piece in (p for p in _BREAKS.split(text) if p):
        while draw.textlength(piece, font=font) > width and len(piece) > 1:
            cut = max(1, max(n for n in range(1, len(piece)) if draw.textlength(piece[:n], font=font) <= width))
            pieces.append(piece[:cut])
            piece = piece[cut:]
        pieces.append(piece)
    lines = [""]
    for piece in pieces:
        if lines[-1] and draw.textlength(lines[-1] + piece, font=font) > width:
            lines.append("")
        lines[-1] += piece
    return [line.rstrip() for line in lines]


@dataclass
class Figure:
    """A comparison figure: PNG bytes (None if nothing could be drawn), a caption, what was left out, and
    the label under each crop (``labels[row][column]``), as drawn."""

    png: bytes | None
    caption: str
    notes: list[str]
    labels: list[list[str]] = field(default_factory=list)


@dataclass
class _Row:
    """One row of a figure: its heading, its tiles (one per column) and the label under each."""

    heading: str
    tiles: list[np.ndarray]
    labels: list[str]
    factor: int


def _label(value: float, degraded: float | None) -> str:
    """``26.81 dB +1.62``: a crop's PSNR, and its gain over the degraded input where given."""
    if math.isinf(value):
        return "identical"
    text = f"{value:.2f} dB"
    if degraded is not None and math.isfinite(degraded):
        text += f" {value - degraded:+.2f}"
    return text


def _rows(reference: Crops, outputs: list[np.ndarray]) -> list[_Row]:
    """The rows of a figure: per crop, every column's tile (enlarged where :func:`magnification` says) and label."""
    rows = []
    for i, (photo, sample) in enumerate(zip(reference.photos, reference.samples, strict=True)):
        clean, degraded = reference.clean[i], reference.degraded[i]
        base = crop_psnr(clean, degraded)
        values = [crop_psnr(clean, out[i]) for out in outputs]
        gains = [v - base for v in values if not (math.isinf(v) and math.isinf(base))]
        factor = magnification(max(gains, default=math.nan))
        tiles = [degraded, *(out[i] for out in outputs), clean]
        heading = f"{photo}, sample {sample}" if photo != sample else f"sample {sample}"
        if factor > 1:
            h, w = clean.shape[:2]
            corner = worst_window(degraded, clean, (math.ceil(h / factor), math.ceil(w / factor)))
            tiles = [enlarge(tile, corner, factor) for tile in tiles]
            heading += f": {factor}x, the worst 1/{factor} of the crop"
        labels = [_label(base, None), *(_label(v, base) for v in values), "clean"]
        rows.append(_Row(heading, tiles, labels, factor))
    return rows


def compose(titles: list[str], rows: list[_Row], *, zoom: int) -> np.ndarray:
    """Lay out the titled columns and the rows (heading, tiles, a label under each tile) into one image."""
    tile_h, tile_w = rows[0].tiles[0].shape[:2]
    font = _font(FONT_SIZE)
    draw = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    widest = max(draw.textlength(label, font=font) for row in rows for label in row.labels)
    cell_w = max(tile_w * zoom, math.ceil(widest) + 2)
    cell_h = tile_h * zoom
    width = len(titles) * cell_w + (len(titles) + 1) * GAP
    wrapped = [wrap(draw, title, font, cell_w) for title in titles]
    headings = [wrap(draw, row.heading, font, width - 2 * GAP) for row in rows]
    header = max(len(lines) for lines in wrapped) * LINE + GAP
    height = header + sum(len(lines) * LINE + cell_h + LINE + GAP for lines in headings) + GAP
    canvas = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for c, lines in enumerate(wrapped):
        for k, line in enumerate(lines):
            draw.text((GAP + c * (cell_w + GAP), GAP + k * LINE), line, fill=INK, font=font)
    top = header
    for row, lines in zip(rows, headings, strict=True):
        for k, line in enumerate(lines):
            draw.text((GAP, top + GAP + k * LINE), line, fill=INK, font=font)
        top += len(lines) * LINE + GAP
        for c, (tile, label) in enumerate(zip(row.tiles, row.labels, strict=True)):
            x = GAP + c * (cell_w + GAP)
            zoomed = np.repeat(np.repeat(tile, zoom, axis=0), zoom, axis=1)
            canvas.paste(Image.fromarray(np.ascontiguousarray(zoomed)), (x + (cell_w - tile_w * zoom) // 2, top))
            draw.text((x, top + cell_h + 1), label, fill=INK, font=font)
        top += cell_h + LINE
    return np.asarray(canvas, dtype=np.uint8)


def comparison_figure(table: Table, *, zoom: int = 2, max_bytes: int | None = MAX_FIGURE_BYTES) -> Figure:
    """The visual comparison PNG of a restoration table, and notes on what was left out.

    Columns follow the table's ranking. Crops line up only when they were taken
    on the same samples, so the figure uses the crops that most results share
    (same sample list and identical clean row; a tie goes to the better-ranked
    result), and leaves out, with a note, any result whose crops differ, are
    missing, or do not parse.

    With ``max_bytes``, rows are dropped from the bottom (never below :data:`MIN_ROWS`) until the
    PNG fits, and the caption says how many were shown.

    Args:
        table: A restoration table.
        zoom: Nearest-neighbour magnification of the whole figure's crops (rows enlarged by
            :data:`MAGNIFY` are enlarged on top of it).
        max_bytes: Largest PNG, or None for no limit.

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
    names: list[str] = []
    outputs: list[np.ndarray] = []
    for result, crops, key in usable:
        if key != shared:
            notes.append(f"figure: {result.model.name} left out: its crops are not of the same samples as the others")
        elif len(names) == MAX_MODELS:
            notes.append(f"figure: {result.model.name} left out: only {MAX_MODELS} models are shown")
        else:
            names.append(result.model.name)
            outputs.append(crops.output)
    rows = _rows(reference, outputs)
    png, shown = _fitted_png(["degraded input", *names, "clean target"], rows, zoom=zoom, max_bytes=max_bytes)
    caption = _caption(table, reference, rows, shown, zoom=zoom, max_bytes=max_bytes)
    return Figure(png, caption, notes, [row.labels for row in rows[:shown]])


def _caption(table: Table, reference: Crops, rows: list[_Row], shown: int, *, zoom: int, max_bytes: int | None) -> str:
    """One line: which photos the rows are, what the labels say, and which rows are magnified and how."""
    h, w = reference.clean.shape[1:3]
    pairs = list(zip(reference.photos[:shown], reference.samples[:shown], strict=True))
    photos = list(dict.fromkeys(photo for photo, _ in pairs))
    hashed = any(photo == sample_image(sample) != sample for photo, sample in pairs)
    named = " (a photo is named by the start of its pixel hash)" if hashed else ""
    if len(photos) == len(pairs):
        listed = ", ".join(f"{photo} (sample {sample})" if photo != sample else sample for photo, sample in pairs)
        what = f"one crop from each of {len(photos)} `{table.split}` photos{named}: {listed}"
    else:
        what = (
            f"{len(pairs)} crops of only {len(photos)} `{table.split}` photo{'s' if len(photos) > 1 else ''} "
            f"({', '.join(photos)}; samples {', '.join(sample for _, sample in pairs)}){named}: these results "
            "predate strips of one crop per photo; re-evaluate them to show several photos"
        )
    if shown < len(rows):
        what += f" ({shown} of the {len(rows)} crops, to keep the file under {max_bytes // 1000} kB)"
    rule = "; ".join(f"under {gain:g} dB, {factor}x" for gain, factor in MAGNIFY)
    parts = " or ".join(f"1/{factor}" for _, factor in MAGNIFY)
    scale = f" Every crop is then drawn at {zoom}x." if zoom != 1 else ""
    return (
        f"Rows: crops ({w}x{h}, at each sample's centre), {what}. Columns: degraded input, each model in table "
        "order, clean target. Under each crop: its own PSNR (RGB, over the whole crop, from these pixels) and, for "
        "a model, its gain over the degraded input on that crop. A row where no model gains "
        f"{MAGNIFY[-1][0]:g} dB is magnified ({rule}; nearest neighbour): it shows the worst part of the crop, the "
        f"{parts} of its side where the degraded input is furthest from the clean one, as its heading says.{scale}"
    )


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


def _fitted_png(titles: list[str], rows: list[_Row], *, zoom: int, max_bytes: int | None) -> tuple[bytes, int]:
    """The figure's PNG and the rows it shows: the last are dropped (never below :data:`MIN_ROWS`) until it fits."""
    shown = len(rows)
    png = encode_png(compose(titles, rows, zoom=zoom))
    while max_bytes is not None and len(png) > max_bytes and shown > MIN_ROWS:
        shown -= 1
        png = encode_png(compose(titles, rows[:shown], zoom=zoom))
    return png, shown
