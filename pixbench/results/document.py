"""The result document as one type: :class:`Result` and its sections, the JSON object each is written as.

Each section of a result file is a dataclass whose fields are the file's keys, in the
file's order. ``pixbench evaluate`` builds a :class:`Result`, :meth:`Section.as_dict` turns it
into the JSON object that :func:`pixbench.results.write_result` writes, and
:meth:`Section.from_dict` reads one back, so the writer and every reader share one
definition of the format (``docs/result-format.md``).

A section also reads as its JSON object (``result["metrics"]["model"]["psnr"]``,
``speed["fps_1080p"]``), for code that indexes result documents as dictionaries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, Field, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pixbench.errors import PixbenchError
from pixbench.results.host import host_label

RESULT_FORMAT = "pixbench-result"
RESULT_FORMAT_VERSION = 1
#: Result ``settings`` that select part of a split (``pixbench evaluate --limit/--factor/--quality``).
SUBSET_SETTINGS = ("limit", "factor", "quality")


class ResultFileError(PixbenchError):
    """A result file is unreadable, not a pixbench result, or disagrees with its benchmark."""


S = TypeVar("S", bound="Section")


#: Field metadata of a key that the file leaves out where its value is None.
OMIT_NONE = {"omit": lambda _section, value: value is None}
#: Field metadata of an attribute that is not part of the file.
NOT_WRITTEN = {"skip": True}


def _required(f: Field) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


class Section(Mapping[str, Any]):
    """A part of a result document: a dataclass whose fields are the keys of its JSON object, in order.

    Field metadata says how a field is written: :data:`OMIT_NONE` (or ``{"omit": predicate}``)
    leaves the key out, :data:`NOT_WRITTEN` marks an attribute that is not in the file.
    """

    #: Fields that hold a section, and its type (read back by :meth:`from_dict`).
    sections: ClassVar[dict[str, type[Section]]] = {}

    def as_dict(self) -> dict[str, Any]:
        """The JSON object of this section (values as they are: see :func:`pixbench.results.json_safe`)."""
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            omit: Callable[[Any, Any], bool] | None = f.metadata.get("omit")
            if f.metadata.get("skip") or (omit is not None and omit(self, value)):
                continue
            out[f.name] = value.as_dict() if isinstance(value, Section) else value
        return out

    @classmethod
    def from_dict(cls: type[S], node: Any, *, where: str, at: str = "") -> S:
        """Read a section from its JSON object; keys this pixbench does not know are passed over.

        Args:
            node: The decoded JSON object.
            where: How messages name the file (its path).
            at: The section's key path in the file (``dataset.recipe``), for messages.

        Raises:
            ResultFileError: The node is not an object, or a required key is missing or null.
        """
        if not isinstance(node, dict):
            raise ResultFileError(f"{where}: {at or 'the result'} is not a JSON object (see docs/result-format.md)")
        values: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            key = f"{at}.{f.name}" if at else f.name
            value = None if f.metadata.get("skip") else node.get(f.name)
            if value is None and _required(f):
                raise ResultFileError(f"{where}: result file lacks {key!r} (see docs/result-format.md)")
            if f.name in node and not f.metadata.get("skip"):
                section = cls.sections.get(f.name)
                values[f.name] = (
                    section.from_dict(value, where=where, at=key) if section and value is not None else value
                )
        return cls(**values)

    def __getitem__(self, key: str) -> Any:
        return self.as_dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.as_dict())

    def __len__(self) -> int:
        return len(self.as_dict())


@dataclass(kw_only=True)
class RecipeRef(Section):
    """The recipe that built the dataset: ``name`` and ``version``."""

    name: str
    version: int


@dataclass(kw_only=True)
class ModelInfo(Section):
    """``model``: the scored file, and how it was fed.

    Attributes:
        name: The ``pixbench.model`` prop, or the file stem.
        params: Sum of initializer sizes; 0 for Python models.
        flops_1080p: FLOPs for one 1920x1080 frame; None where unknown.
        props: The model's ``pixbench.*`` metadata.
        assumed: How the model was fed (layout, range, channels, size, ...), as resolved.
        assumed_from: Where each assumption came from (``metadata``, ``default``, ``probed``, ...).
    """

    name: str
    file: str | None = None
    sha256: str
    size_mb: float | None = None
    params: int | None = None
    flops_1080p: float | None = None
    props: dict[str, Any] = field(default_factory=dict)
    assumed: dict[str, Any] = field(default_factory=dict)
    assumed_from: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class DatasetInfo(Section):
    """``dataset``: which dataset and split were scored; ``samples`` counts those scored (after --factor/--limit)."""

    sections = {"recipe": RecipeRef}

    path: str | None = None
    fingerprint: str
    recipe: RecipeRef
    source: str | None = None
    split: str | None = None
    samples: int | None = None
    split_samples: int | None = None


@dataclass(kw_only=True)
class Overrides(Section):
    """``settings.overrides``: the ``--layout``, ``--range`` and ``--channels`` given, else None."""

    layout: str | None = None
    range: str | None = None
    channels: str | None = None


@dataclass(kw_only=True)
class Settings(Section):
    """``settings``: every option of ``pixbench evaluate`` that changes what was measured."""

    sections = {"overrides": Overrides}

    split: str | None = None
    limit: int | None = None
    factor: int | None = None
    quality: int | None = field(default=None, metadata=OMIT_NONE)  # omitted unless given: older files keep their bytes
    tile: list[int] | None = None
    overlap: int | None = None
    overrides: Overrides = field(default_factory=Overrides)
    lpips: bool | None = None
    speed_warmup: int | None = None
    speed_runs: int | None = None

    @property
    def subset(self) -> str:
        """The options that scored only part of the split (``--limit 4 --factor 4``), or ``""``."""
        chosen = {k: getattr(self, k) for k in SUBSET_SETTINGS}
        return " ".join(f"--{k} {v}" for k, v in chosen.items() if v not in (None, ""))


@dataclass(kw_only=True)
class Triplets(Section):
    """``metrics.triplets``: a blockwise model on its own 24x24 -> 8x8 blocks, PSNR pooled over ``n`` blocks."""

    n: int | None = None
    model: dict[str, Any] = field(default_factory=dict)
    degraded: dict[str, Any] = field(default_factory=dict)


def _lpips_note_left_out(metrics: Metrics, note: str | None) -> bool:
    # Evaluate gives the note exactly where the model's LPIPS is null (null itself when no reason was known).
    return note is None and not ("lpips" in metrics.model and metrics.model["lpips"] is None)


@dataclass(kw_only=True)
class Metrics(Section):
    """``metrics``: the model's means and, for restorers, the degraded input's.

    Attributes:
        model: Metric means over the scored samples (a detector: ``classification_metrics``).
        degraded: Restorers: the same metrics of the degraded input itself.
        aggregates: Restorers: ``pixbench.metrics.aggregate`` of each metric, ``model`` and ``degraded``.
        lpips_note: Why LPIPS is null, written wherever it is.
        triplets: Blockwise tasks: the scores on the dataset's own blocks.
        crops_per_image: Detectors: the crop counts that images were split into.
    """

    sections = {"triplets": Triplets}

    model: dict[str, Any]
    degraded: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)
    aggregates: dict[str, Any] | None = field(default=None, metadata=OMIT_NONE)
    lpips_note: str | None = field(default=None, metadata={"omit": _lpips_note_left_out})
    triplets: Triplets | None = field(default=None, metadata=OMIT_NONE)
    crops_per_image: list[int] | None = field(default=None, metadata=OMIT_NONE)


@dataclass(kw_only=True)
class Failures(Section):
    """``failures``: samples that were not scored (NaN, Inf or wrong-shape output), counted by reason."""

    count: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass(kw_only=True)
class Speed(Section):
    """``speed``: FPS and latency of one 1920x1080 frame and of one at the dataset's native size ``[h, w]``.

    ``input_resized_to`` is the ``[h, w]`` a model's graph resizes the 1080p frame to (its FPS is that of a
    smaller image); ``run`` names the timing run (one per published table, None for a plain evaluate);
    ``load_1min`` is the load average when timing started (in a speed run it counts the run's earlier rows);
    ``other_cpu`` the cores' worth of CPU other processes and the hypervisor took while the frames (both
    sizes, half a second at least: a fast model's are repeated) were timed; 0 idle, None if the OS can't say.
    """

    provider: str | None = None
    threads: int | None = None
    warmup: int | None = field(default=None, metadata=OMIT_NONE)
    runs: int | None = field(default=None, metadata=OMIT_NONE)
    fps_1080p: float | None = field(default=None, metadata=OMIT_NONE)
    latency_ms_median_1080p: float | None = field(default=None, metadata=OMIT_NONE)
    latency_ms_p90_1080p: float | None = field(default=None, metadata=OMIT_NONE)
    fps_native: float | None = field(default=None, metadata=OMIT_NONE)
    latency_ms_median_native: float | None = field(default=None, metadata=OMIT_NONE)
    latency_ms_p90_native: float | None = field(default=None, metadata=OMIT_NONE)
    native_size: list[int] | None = None
    input_resized_to: list[int] | None = field(default=None, metadata=OMIT_NONE)
    run: str | None = field(default=None, metadata=OMIT_NONE)
    load_1min: float | None = field(default=None, metadata=OMIT_NONE)
    other_cpu: float | None = field(default=None, metadata=OMIT_NONE)


@dataclass(kw_only=True)
class Environment(Section):
    """``environment``: the code and the machine of the run (:mod:`pixbench.results.host`).

    Files written before ``revision``, ``numpy``, ``pillow``, ``cpu_flags``, ``isa``, ``threads`` and
    ``date`` existed leave them out; tables name their host ``unrecorded host (...)``. ``cores`` counts
    logical cores, ``threads`` those the model ran with, ``date`` is UTC.
    """

    pixbench: str | None = None
    revision: str | None = field(default=None, metadata=OMIT_NONE)
    onnxruntime: str | None = None
    numpy: str | None = field(default=None, metadata=OMIT_NONE)
    pillow: str | None = field(default=None, metadata=OMIT_NONE)
    provider: str | None = None
    cpu: str | None = None
    cpu_flags: list[str] | None = field(default=None, metadata=OMIT_NONE)
    isa: str | None = field(default=None, metadata=OMIT_NONE)
    cores: int | None = None
    threads: int | None = field(default=None, metadata=OMIT_NONE)
    platform: str | None = None
    python: str | None = None
    date: str | None = field(default=None, metadata=OMIT_NONE)

    @property
    def host(self) -> str:
        """The machine's name in tables (:func:`pixbench.results.host.host_label`)."""
        return host_label(self.cpu, self.isa, self.platform)


@dataclass(kw_only=True)
class Crops(Section):
    """``crops``: a restorer's ``<stem>.crops.png``; ``size`` is one side or ``[h, w]``; ``per_crop`` (newer files)
    gives each column's ``sample_id``, ``source`` photo, ``model_psnr`` and ``degraded_psnr`` (RGB, over the crop)."""

    file: str | None = None
    size: int | list[int] | None = None
    samples: list[str] = field(default_factory=list)
    rows: list[str] | None = field(default=None, metadata=OMIT_NONE)
    per_crop: list[dict[str, Any]] | None = field(default=None, metadata=OMIT_NONE)


@dataclass(kw_only=True)
class Result(Section):
    """One result file: what was scored, on what, how, and what came out (``docs/result-format.md``).

    ``path`` is where the file was read from or written to; it is not part of the file. The
    properties below the fields are the views a leaderboard groups and ranks by.
    """

    sections = {
        "crops": Crops,
        "model": ModelInfo,
        "dataset": DatasetInfo,
        "settings": Settings,
        "metrics": Metrics,
        "failures": Failures,
        "speed": Speed,
        "environment": Environment,
    }

    task: str
    crops: Crops | None = field(default=None, metadata=OMIT_NONE)
    model: ModelInfo
    dataset: DatasetInfo
    settings: Settings = field(default_factory=Settings)
    metrics: Metrics
    breakdown: dict[str, Any] = field(default_factory=dict)
    failures: Failures = field(default_factory=Failures)
    speed: Speed | None = None
    targets: dict[str, bool | None] = field(default_factory=dict)
    environment: Environment = field(default_factory=Environment)
    per_sample: str | None = None
    path: Path | None = field(default=None, metadata=NOT_WRITTEN, compare=False)

    def as_dict(self) -> dict[str, Any]:
        """The result file's JSON object: the format header, then every section."""
        return {"format": RESULT_FORMAT, "format_version": RESULT_FORMAT_VERSION, **super().as_dict()}

    @property
    def sha256(self) -> str:
        return self.model.sha256

    @property
    def fingerprint(self) -> str:
        return self.dataset.fingerprint

    @property
    def recipe(self) -> str:
        return self.dataset.recipe.name

    @property
    def version(self) -> int:
        return self.dataset.recipe.version

    @property
    def source(self) -> str:
        """The source of the test images (``kodak``, ``folder:set14``), or ``unknown``."""
        return str(self.dataset.source) if self.dataset.source else "unknown"

    @property
    def split(self) -> str:
        return str(self.dataset.split or "test")

    @property
    def samples(self) -> int | None:
        """Samples scored, or None when the file does not say."""
        n = self.dataset.samples
        return int(n) if isinstance(n, (int, float)) and not isinstance(n, bool) else None

    @property
    def subset(self) -> str:
        """Options of ``pixbench evaluate`` that scored only part of the split; such runs are their own evaluation set."""
        return self.settings.subset

    @property
    def model_metrics(self) -> dict[str, Any]:
        return self.metrics.model

    @property
    def degraded_metrics(self) -> dict[str, Any]:
        return self.metrics.degraded or {}

    @property
    def hardware(self) -> str:
        return hardware_label(self)

    @property
    def benchmark_key(self) -> tuple[str, str, int, str]:
        return (self.task, self.recipe, self.version, self.source)

    @property
    def evalset_key(self) -> tuple[str, str, int, str]:
        return (self.fingerprint, self.split, -1 if self.samples is None else self.samples, self.subset)


def hardware_label(result: Result) -> str:
    """Where FPS was measured: the host (CPU and ISA class), execution provider and threads, in one line."""
    speed = result.speed or Speed()
    provider = str(speed.provider or "unknown provider").removesuffix("ExecutionProvider")
    parts = [result.environment.host, provider]
    if speed.threads:
        parts.append(f"{speed.threads} threads")
    return ", ".join(parts)
