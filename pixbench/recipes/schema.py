"""The typed recipe schema (pydantic models), its canonical form and its hash.

A recipe says everything the builder needs to turn a source of clean photos into
a dataset: the task, the seed, the default source, the crop policy (none for the
tasks that take whole images), the degradation ops with their parameter lists, and
the split fractions. The schema is
strict (unknown keys are errors); :mod:`pixbench.recipes.loading` turns its errors
into one line. ``docs/recipes.md`` documents it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from pixbench.degradations.gray import GrayJpegOp
from pixbench.degradations.holes import HolesOp
from pixbench.degradations.jpeg import JpegOp
from pixbench.degradations.mosaic import MosaicOp
from pixbench.degradations.pixelate import PixelateOp
from pixbench.degradations.recompress import RecompressOp
from pixbench.degradations.sr import BicubicDownOp
from pixbench.degradations.textures import TexturesOp
from pixbench.tasks import TASK_NAMES, check_recipe

#: A task name; the allowed values (and their order in error messages) come from the task table.
TaskName = Literal[TASK_NAMES]  # type: ignore[valid-type]
Kernel = Literal["nearest", "box", "bilinear", "bicubic", "lanczos"]
Subsampling = Literal["4:4:4", "4:2:2", "4:2:0"]
#: The hard-negative patterns of ``pixbench.degradations.textures``.
TextureKind = Literal["tiles", "brick", "fence", "grid", "halftone", "screentone", "text", "flat"]


class _Strict(BaseModel):
    # strict: ``version: true`` or ``version: "1"`` is an error, not version 1 (YAML gives real ints,
    # floats and bools, so no shipped recipe needs coercion; an int is still a valid float).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class PixelateSpec(_Strict):
    """``op: pixelate``: factor and both kernels drawn uniformly from these lists."""

    op: Literal["pixelate"]
    factors: list[Annotated[int, Field(ge=2, le=64)]] = Field(min_length=1)
    down_kernels: list[Kernel] = Field(min_length=1)
    up_kernels: list[Kernel] = Field(min_length=1)

    def build(self) -> PixelateOp:
        return PixelateOp(tuple(self.factors), tuple(self.down_kernels), tuple(self.up_kernels))


class JpegSpec(_Strict):
    """``op: jpeg``: quality drawn uniformly from ``qualities``."""

    op: Literal["jpeg"]
    qualities: list[Annotated[int, Field(ge=1, le=95)]] = Field(min_length=1)
    subsampling: Subsampling = "4:2:0"

    def build(self) -> JpegOp:
        return JpegOp(tuple(self.qualities), self.subsampling)


class HolesSpec(_Strict):
    """``op: holes``: ``count`` non-overlapping ``size`` x ``size`` holes filled with ``fill``."""

    op: Literal["holes"]
    count: int = Field(ge=1, le=16)
    size: int = Field(ge=1, le=1024)
    fill: int = Field(default=0, ge=0, le=255)

    def build(self) -> HolesOp:
        return HolesOp(self.count, self.size, self.fill)


class GrayJpegSpec(_Strict):
    """``op: gray-jpeg``: the gray plane JPEG-coded at every one of ``qualities`` (one sample each)."""

    op: Literal["gray-jpeg"]
    qualities: list[Annotated[int, Field(ge=1, le=95)]] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> GrayJpegSpec:
        if len(set(self.qualities)) != len(self.qualities):
            raise ValueError(f"qualities must differ (one sample per quality), got {self.qualities}")
        return self

    def build(self) -> GrayJpegOp:
        return GrayJpegOp(tuple(self.qualities))


class BicubicDownSpec(_Strict):
    """``op: bicubic-down``: MATLAB-bicubic shrink (and bicubic upscale) at every one of ``factors`` (one sample each)."""

    op: Literal["bicubic-down"]
    factors: list[Annotated[int, Field(ge=2, le=8)]] = Field(min_length=1)

    @model_validator(mode="after")
    def _distinct(self) -> BicubicDownSpec:
        if len(set(self.factors)) != len(self.factors):
            raise ValueError(f"factors must differ (one sample per factor), got {self.factors}")
        return self

    def build(self) -> BicubicDownOp:
        return BicubicDownOp(tuple(self.factors))


Share = Annotated[float, Field(ge=0, le=1)]
Fraction = Annotated[float, Field(gt=0, le=1)]


def _ordered(pair: list[Any], name: str) -> None:
    if pair[0] > pair[1]:
        raise ValueError(f"{name}: expected [low, high] with low <= high, got {pair}")


class TexturesSpec(_Strict):
    """``op: textures``: one hard-negative pattern of ``kinds`` in a share ``share`` of the images (localize)."""

    op: Literal["textures"]
    share: Share
    kinds: list[TextureKind] = Field(min_length=1)
    min_side: int = Field(default=64, ge=16, le=4096)
    max_fraction: Fraction = 0.8

    def build(self) -> TexturesOp:
        return TexturesOp(self.share, tuple(self.kinds), self.min_side, self.max_fraction)


class MosaicSpec(_Strict):
    """``op: mosaic``: up to ``max_regions`` mosaic regions per image, none in a share ``empty`` (localize)."""

    op: Literal["mosaic"]
    per_image: int = Field(ge=1, le=1000)
    empty: Share
    max_regions: int = Field(ge=1, le=16)
    min_side: int = Field(default=32, ge=8, le=4096)
    max_fraction: Fraction = 0.85
    max_aspect: float = Field(default=6.0, ge=1, le=16)
    shapes: list[Literal["rect", "ellipse", "free"]] = Field(min_length=1)
    feathered: Share
    feather: list[Annotated[int, Field(ge=1, le=64)]] = Field(min_length=2, max_length=2)
    blocks: list[Annotated[int, Field(ge=2, le=64)]] = Field(min_length=2, max_length=2)
    cells: list[Literal["srgb-mean", "linear-mean", "centre"]] = Field(min_length=1)
    gap: int = Field(default=16, ge=0, le=256)

    @model_validator(mode="after")
    def _ranges(self) -> MosaicSpec:
        _ordered(self.feather, "feather")
        _ordered(self.blocks, "blocks")
        if self.blocks[0] * 2 > self.min_side:
            raise ValueError(f"min_side {self.min_side} must hold two of the smallest blocks ({self.blocks[0]} px)")
        return self

    def build(self) -> MosaicOp:
        return MosaicOp(
            self.empty,
            self.max_regions,
            self.min_side,
            self.max_fraction,
            self.max_aspect,
            tuple(self.shapes),
            self.feathered,
            (self.feather[0], self.feather[1]),
            (self.blocks[0], self.blocks[1]),
            tuple(self.cells),
            self.gap,
        )


class RecompressSpec(_Strict):
    """``op: recompress``: none, JPEG, or downscale then JPEG, drawn by ``weights`` in that order (localize)."""

    op: Literal["recompress"]
    weights: list[Annotated[float, Field(ge=0)]] = Field(min_length=3, max_length=3)
    qualities: list[Annotated[int, Field(ge=1, le=95)]] = Field(min_length=2, max_length=2)
    scales: list[Annotated[float, Field(gt=0, le=1)]] = Field(min_length=2, max_length=2)
    kernels: list[Kernel] = Field(min_length=1)

    @model_validator(mode="after")
    def _ranges(self) -> RecompressSpec:
        if not sum(self.weights) > 0:
            raise ValueError(f"weights (none, jpeg, downscale-jpeg) must not all be 0, got {self.weights}")
        _ordered(self.qualities, "qualities")
        _ordered(self.scales, "scales")
        return self

    def build(self) -> RecompressOp:
        return RecompressOp(
            (self.weights[0], self.weights[1], self.weights[2]),
            (self.qualities[0], self.qualities[1]),
            (self.scales[0], self.scales[1]),
            tuple(self.kernels),
        )


OpSpec = Annotated[
    PixelateSpec | JpegSpec | HolesSpec | GrayJpegSpec | BicubicDownSpec | TexturesSpec | MosaicSpec | RecompressSpec,
    Field(discriminator="op"),
]


class Prescale(_Strict):
    """A resize before the crop: one of ``factors`` with one of ``kernels``.

    A factor above 1 shrinks (the crop comes from a region that many times larger), as a publisher
    shrinks a photo; one below 1 enlarges (from a smaller region), as a viewer or an editor upscales
    a small photo by a factor that lays no block grid.
    """

    factors: list[Annotated[float, Field(ge=0.5, le=8.0)]] = Field(min_length=1)
    kernels: list[Kernel] = Field(min_length=1)


class Negative(_Strict):
    """``detect`` negatives: clean crops of one ``kind``, drawn with relative ``weight``.

    Kinds: ``clean`` (a random crop), ``jpeg`` (a random crop after a JPEG round trip at
    one of ``qualities``), ``sharp`` and ``smooth`` (the most and least textured of
    ``candidates`` random crops, by mean gradient magnitude), ``texture`` (a random crop with
    one regular pattern of ``textures`` drawn over half to all of it: tiles, brick, a fence, graph
    paper, halftone or screentone dots, text, flat shapes).

    Harder negatives combine a kind with: ``prescale`` (the region is shrunk first),
    ``qualities`` on any kind (a JPEG round trip after the crop is chosen, e.g. smooth
    crops of a compressed photo), ``requalities`` (compressed a second time), and
    ``jpeg_phase: random`` (the JPEG grid at a random offset from the crop's corner, as
    in a crop of a compressed photo). ``name`` is what the ``negative_kind`` column says
    (default: the kind), so results break false positives down by it. Every new field
    defaults to absent, so recipes that do not use them keep their bytes.
    """

    kind: Literal["clean", "jpeg", "sharp", "smooth", "texture"]
    name: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]*$", max_length=32)
    weight: float = Field(default=1.0, gt=0)
    qualities: list[Annotated[int, Field(ge=1, le=95)]] | None = Field(default=None, min_length=1)
    requalities: list[Annotated[int, Field(ge=1, le=95)]] | None = Field(default=None, min_length=1)
    jpeg_phase: Literal["crop", "random"] | None = None
    prescale: Prescale | None = None
    candidates: int = Field(default=8, ge=2, le=64)
    textures: list[TextureKind] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _qualities_for_jpeg(self) -> Negative:
        if self.kind == "jpeg" and self.qualities is None:
            raise ValueError("qualities is required for kind 'jpeg'")
        if (self.kind == "texture") != (self.textures is not None):
            raise ValueError("kind 'texture' needs textures (the patterns to draw), and textures needs kind 'texture'")
        if self.qualities is None and (self.requalities is not None or self.jpeg_phase is not None):
            raise ValueError("requalities and jpeg_phase need qualities (the first JPEG round trip)")
        return self

    @property
    def label(self) -> str:
        """The ``negative_kind`` value of this negative's samples."""
        return self.name or self.kind


class Crop(_Strict):
    """Crop policy: ``per_image`` crops of ``size`` x ``size``, origins on a multiple of ``align``."""

    size: int = Field(ge=16, le=4096)
    per_image: int = Field(ge=1, le=10_000)
    align: int = Field(default=1, ge=1, le=64)


class Splits(_Strict):
    """Fractions of *source images* per split; they must add up to 1."""

    train: float = Field(ge=0, le=1)
    val: float = Field(ge=0, le=1)
    test: float = Field(ge=0, le=1)

    @model_validator(mode="after")
    def _sum_to_one(self) -> Splits:
        total = self.train + self.val + self.test
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"train + val + test must be 1, got {total:g}")
        return self


class Triplets(_Strict):
    """``blockcnn``: how many 8x8 blocks to cut from each crop (``all`` = every block)."""

    per_crop: int | Literal["all"] = 64


class Recipe(_Strict):
    """A dataset recipe (see ``docs/recipes.md``)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=64)
    version: int = Field(ge=1)
    task: TaskName
    description: str = ""
    seed: int = Field(ge=0, lt=2**63)
    source: str = Field(min_length=1)
    crop: Crop | None = None  # left out by the tasks that take whole images
    splits: Splits
    degradations: list[OpSpec] = Field(min_length=1)
    negatives: list[Negative] | None = None
    triplets: Triplets | None = None

    @model_validator(mode="after")
    def _fits_task(self) -> Recipe:
        check_recipe(self)  # the rules live with each task (pixbench/tasks/)
        return self

    def ops(self) -> list[Any]:
        """The runtime op objects, in recipe order."""
        return [d.build() for d in self.degradations]

    def canonical(self) -> dict[str, Any]:
        """The recipe as plain data with every default filled in."""
        return self.model_dump(mode="json", exclude_none=True)

    def canonical_yaml(self) -> str:
        """Canonical YAML: keys sorted, defaults filled in, no comments."""
        return yaml.safe_dump(self.canonical(), sort_keys=True, default_flow_style=None, width=100)

    def sha256(self) -> str:
        """SHA-256 of the canonical JSON form (the recipe's identity)."""
        blob = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    @property
    def label(self) -> str:
        """``name@version``, how messages and ``dataset.json`` name the recipe."""
        return f"{self.name}@{self.version}"
