"""Typed recipe schema, loading, canonical form and hash.

A recipe says everything the builder needs to turn a source of clean photos into
a dataset: the task, the seed, the default source, the crop policy, the
degradation ops with their parameter lists, and the split fractions. The schema is
strict (unknown keys are errors) and every error is one line naming the file, the
field path, the bad value and what is allowed. ``docs/recipes.md`` documents it.

Versioning rule: a recipe ``name`` at a given ``version``, once published,
produces the same bytes forever; any change in behaviour needs a new version.
"""

from __future__ import annotations

import hashlib
import json
import typing
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pixbench.degradations.holes import HolesOp
from pixbench.degradations.jpeg import JpegOp
from pixbench.degradations.pixelate import PixelateOp
from pixbench.errors import RecipeError
from pixbench.registry import Registry

Task = Literal["detect", "depixelate", "jpeg", "blockcnn", "inpaint"]
Kernel = Literal["nearest", "box", "bilinear", "bicubic", "lanczos"]
Subsampling = Literal["4:4:4", "4:2:2", "4:2:0"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


OpSpec = Annotated[Union[PixelateSpec, JpegSpec, HolesSpec], Field(discriminator="op")]


class Negative(_Strict):
    """``detect`` negatives: clean crops of one ``kind``, drawn with relative ``weight``.

    Kinds: ``clean`` (a random crop), ``jpeg`` (a random crop after a mild JPEG round
    trip at one of ``qualities``), ``sharp`` and ``smooth`` (the most and least
    textured of ``candidates`` random crops, by mean gradient magnitude).
    """

    kind: Literal["clean", "jpeg", "sharp", "smooth"]
    weight: float = Field(default=1.0, gt=0)
    qualities: list[Annotated[int, Field(ge=1, le=95)]] | None = None
    candidates: int = Field(default=8, ge=2, le=64)

    @model_validator(mode="after")
    def _qualities_for_jpeg(self) -> Negative:
        if (self.kind == "jpeg") != (self.qualities is not None):
            raise ValueError("qualities is required for kind 'jpeg' and not allowed for other kinds")
        return self


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


#: Which ops each task takes, in order.
TASK_OPS: dict[str, tuple[str, ...]] = {
    "detect": ("pixelate",), "depixelate": ("pixelate",), "jpeg": ("jpeg",),
    "blockcnn": ("jpeg",), "inpaint": ("holes",),
}


class Recipe(_Strict):
    """A dataset recipe (see ``docs/recipes.md``)."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$", max_length=64)
    version: int = Field(ge=1)
    task: Task
    description: str = ""
    seed: int = Field(ge=0, lt=2**63)
    source: str = Field(min_length=1)
    crop: Crop
    splits: Splits
    degradations: list[OpSpec] = Field(min_length=1)
    negatives: list[Negative] | None = None
    triplets: Triplets | None = None

    @model_validator(mode="after")
    def _fits_task(self) -> Recipe:
        ops = tuple(d.op for d in self.degradations)
        if ops != TASK_OPS[self.task]:
            raise ValueError(f"task {self.task!r} takes degradations {list(TASK_OPS[self.task])}, got {list(ops)}")
        if (self.task == "detect") != (self.negatives is not None):
            raise ValueError("negatives is required for task 'detect' and not allowed for other tasks")
        if self.task == "detect" and self.crop.per_image % 2:
            raise ValueError(f"crop.per_image must be even for 'detect' (balanced classes), got {self.crop.per_image}")
        if (self.task == "blockcnn") != (self.triplets is not None):
            raise ValueError("triplets is required for task 'blockcnn' and not allowed for other tasks")
        op = self.degradations[0]
        if self.task == "depixelate":
            bad = [f for f in op.factors if self.crop.size % f or self.crop.align % f]
            if bad:
                raise ValueError(f"depixelate factors {bad} must divide crop.size ({self.crop.size}) and crop.align ({self.crop.align})")
        if self.task in ("jpeg", "blockcnn") and (self.crop.size % 16 or self.crop.align % 8):
            raise ValueError("jpeg/blockcnn crops need crop.size a multiple of 16 and crop.align a multiple of 8")
        if self.task == "inpaint" and 2 * op.size > self.crop.size and op.count > 1:
            raise ValueError(f"{op.count} holes of {op.size}px do not fit side by side in a {self.crop.size}px crop")
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
        return f"{self.name}@{self.version}"


_TAGGED = {"pixelate": PixelateSpec, "jpeg": JpegSpec, "holes": HolesSpec}


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The schema model that owns the field at ``loc`` (for listing allowed keys)."""
    model: Any = Recipe
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if part in _TAGGED:
            model = _TAGGED[part]
        elif isinstance(model, type) and issubclass(model, BaseModel) and part in model.model_fields:
            ann = model.model_fields[part].annotation
            inner = [a for a in typing.get_args(ann) if isinstance(a, type) and issubclass(a, BaseModel)]
            for a in typing.get_args(ann):  # list[X] | None
                inner += [b for b in typing.get_args(a) if isinstance(b, type) and issubclass(b, BaseModel)]
            model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else (inner[0] if inner else None)
        else:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _one_line(origin: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if p not in _TAGGED)
    path = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in loc).replace(".[", "[") or "(top level)"
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        model = _model_at(err["loc"])
        allowed = f"; allowed keys: {', '.join(model.model_fields)}" if model else ""
        return f"{origin}: {path}: unknown key{allowed}"
    if err["type"] == "missing":
        return f"{origin}: {path}: required field is missing"
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    value = err.get("input")
    shown = "" if isinstance(value, dict) else f" (got {value!r})"
    return f"{origin}: {path}: {msg}{shown}{more}"


def parse_recipe(data: Any, *, origin: str = "<recipe>") -> Recipe:
    """Validate plain data (as loaded from YAML) into a :class:`Recipe`.

    Raises:
        RecipeError: One line naming ``origin``, the field path, the bad value and what is allowed.
    """
    if not isinstance(data, dict):
        raise RecipeError(f"{origin}: expected a mapping of recipe fields, got {type(data).__name__}")
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(_one_line(origin, exc)) from None


def load_recipe_file(path: str | Path) -> Recipe:
    """Read and validate one recipe YAML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecipeError(f"{path}: cannot read recipe: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise RecipeError(f"{path}: not valid YAML{where}: {problem}") from None
    return parse_recipe(data, origin=str(path))


def shipped_recipes_dir() -> Path:
    """The folder of recipes that ship with pixbench (inside the installed package)."""
    return Path(str(resources.files("pixbench") / "recipes"))


def shipped_recipes() -> dict[str, Path]:
    """Shipped recipe name -> file, sorted by name."""
    folder = shipped_recipes_dir()
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))} if folder.is_dir() else {}


def resolve_recipe(name_or_path: str) -> tuple[Recipe, Path]:
    """Find a recipe by shipped name (``detect``) or by path (``my/recipe.yaml``).

    Raises:
        RecipeError: No such file or shipped name (with the closest names), or an invalid recipe.
    """
    path = Path(name_or_path)
    if path.is_file():
        return load_recipe_file(path), path
    if path.suffix in (".yaml", ".yml") or "/" in name_or_path or "\\" in name_or_path:
        raise RecipeError(f"{name_or_path}: no such recipe file")
    shipped = shipped_recipes()
    registry: Registry[Path] = Registry("recipe")
    for name, p in shipped.items():
        registry.register(name, p)
    try:
        found = registry.get(name_or_path)
    except KeyError as exc:
        raise RecipeError(f"{exc}; or give a path to a recipe .yaml file") from None
    return load_recipe_file(found), found
