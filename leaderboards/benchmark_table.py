"""What ``leaderboards/reproduce.py`` runs: its settings and the table of published benchmarks.

Every command line that ``reproduce.py`` prints is built from the settings below and from one
:class:`Benchmark` of :data:`BENCHMARKS` (a recipe, how its datasets are built, and the rows scored on
it). To change what is reproduced, change it here; ``reproduce.py`` holds only the steps that turn this
table into ``pixbench`` commands. Paths are relative to the repository root.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# ----------------------------------------------------------------------------------------------
# Settings. Every command line below is built from these, so adjust them here and nowhere else.
# ----------------------------------------------------------------------------------------------

SEED = 0
#: Training images (BSD68), unless a row names another training source; never a test source.
TRAIN_SOURCE = "folder:../shared/datasets/bsd68"
#: The 400 BSDS500 train+test photos, copied and verified by `python tools/fetch_bsds400.py` (against
#: tools/bsds400.sha256) into this git-ignored folder. None of them is in a test source.
BSDS400_SOURCE = "folder:leaderboards/work/sources/bsds400"
#: The training sources a Trained row may name (`Trained.train_source`), by the name its datasets carry.
TRAIN_SOURCES = {"bsd68": TRAIN_SOURCE, "bsds400": BSDS400_SOURCE}
#: How a training source that is not in the repository is fetched: its folder and the command that fills it.
FETCH_SOURCES = {"bsds400": (Path("leaderboards/work/sources/bsds400"), ["python", "tools/fetch_bsds400.py"])}
#: Test sources, each a table of its own per benchmark: Kodak (24 photos) and Set14 (14 images, some
#: of them greyscale, which pixbench decodes to RGB by repeating the grey channel; docs/recipes.md)
#: for pixbench's own benchmarks; Classic5, LIVE1 and Set5 for the paper-protocol ones, which score
#: the test sets the papers report on (Benchmark.sources says which benchmark uses which).
TEST_SOURCES = {
    "kodak": "kodak:../shared/datasets/kodak",
    "set14": "folder:../shared/datasets/set14",
    "classic5": "folder:../shared/datasets/classic5",
    "live1": "folder:../shared/datasets/live1",
    "set5": "folder:../shared/datasets/set5",
}
#: The sources a benchmark is published on unless it says otherwise.
OWN_SOURCES = ("kodak", "set14")
#: Test sources whose results carry FPS. FPS is measured on synthetic 1080p frames, so it does not
#: depend on the test photos: it is measured once per model, in the Kodak run (`--no-speed` elsewhere).
SPEED_SOURCES = {"kodak"}
#: Test sources whose tables get a comparison figure (`pixbench leaderboard --figure-source`): a figure shows
#: pixels of the test images, and only Kodak's may be redistributed (Set14's may not).
FIGURE_SOURCES = {"kodak"}
#: Split of each test build that is scored. The shipped recipes assign source images to
#: train/val/test by hash (70/15/15); `--split test` puts every test photo into the test split.
EVAL_SPLIT = "test"
TEST_BUILD_ARGS: list[str] = ["--split", "test"]
#: The shipped recipes, passed to `pixbench build-dataset` by path so the command says which file it read.
RECIPES_DIR = Path("recipes")
#: Where the published files go (committed) and where the bulky intermediates go (git-ignored).
TABLES_DIR = Path("leaderboards")
MODELS_DIR = Path("leaderboards/models")
RESULTS_DIR = Path("leaderboards/results")
WORK_DIR = Path("leaderboards/work")
#: Models trained elsewhere (DnCNN-3, VDSR), converted from their authors' published weight files by
#: `tools/convert_dncnn3.py` and `tools/convert_vdsr.py` into this git-ignored folder: their licences do
#: not allow redistributing the weights, so only their result files are committed, and `reproduce.py`
#: scores them where the converted files exist (leaderboards/README.md, "Third-party rows").
THIRDPARTY_DIR = WORK_DIR / "thirdparty"
#: Notes per table that result files cannot carry, written by hand after a published run and passed
#: to `pixbench leaderboard --notes`.
NOTES = Path("leaderboards/notes.json")
#: The numbers papers report for rows of the tables (the `published` column), passed to
#: `pixbench leaderboard --published`.
PUBLISHED = Path("leaderboards/published.yaml")
#: One training configuration per trained row (`pixbench train --config`): model options and settings.
CONFIGS_DIR = Path("leaderboards/configs")
#: File that `pixbench train -o RUN_DIR` leaves for export (best checkpoint by validation metric).
CHECKPOINT = "best.pt"
#: Extension of baseline model files (`pixbench baseline`): ONNX, except JSON model files such as biharmonic.
JSON_BASELINES = {"biharmonic": ".json"}
#: The depixelate recipes mix factors 2, 4 and 8; each table scores every model on the samples of one
#: factor only, because a low-res-grid model (ESPCN, bicubic, lanczos) upscales by one fixed factor.
#: The x4 tables are the main ones (the trained rows); x2 and x8 have a table each of the models made
#: for that factor, on the same datasets.
X4 = ["--factor", "4"]
#: The other factors of the depixelate recipes, each a table of its own (``<table>-factor-<F>``).
OTHER_FACTORS = (2, 8)
#: Fewer timed 1080p frames for the models that take seconds per frame (BlockCNN runs 32,400
#: contexts, the inpainter a 1080p U-Net): FPS of 3 frames after 1 warm-up, instead of 10 after 2.
SLOW_SPEED = ["--runs", "3", "--warmup", "1"]


@dataclass
class Trained:
    """A reference model trained with ``pixbench train`` and exported with ``pixbench export``."""

    model: str
    eval_args: list[str] = field(default_factory=list)
    name: str = ""
    #: Recipe of the training set when it differs from the benchmark's (BlockCNN trains on triplets): a
    #: shipped recipe's name, or ``history/<file>`` for an earlier version kept in ``recipes/history/``.
    train_recipe: str | None = None
    #: Name of the configuration file when one row name is trained differently per benchmark.
    config_name: str = ""
    #: The training source (a key of TRAIN_SOURCES): BSD68 unless the row says otherwise.
    train_source: str = "bsd68"

    def __post_init__(self) -> None:
        self.name = self.name or self.model
        if self.train_source not in TRAIN_SOURCES:
            raise ValueError(f"{self.name}: train_source {self.train_source!r} is not one of {list(TRAIN_SOURCES)}")

    @property
    def config(self) -> Path:
        """The row's training configuration (model options and settings, budget included)."""
        return CONFIGS_DIR / f"{self.config_name or self.name}.yaml"


@dataclass
class Baseline:
    """A classical baseline written by ``pixbench baseline``."""

    baseline: str
    args: list[str] = field(default_factory=list)
    eval_args: list[str] = field(default_factory=list)
    name: str = ""

    def __post_init__(self) -> None:
        self.name = self.name or self.baseline


@dataclass
class Reuse:
    """A model published by an earlier benchmark of this list, scored here too."""

    name: str
    benchmark: str
    eval_args: list[str] = field(default_factory=list)


@dataclass
class Existing:
    """A model file already in the repository (not trained by this script), scored as it is."""

    name: str
    path: str
    eval_args: list[str] = field(default_factory=list)


@dataclass
class Combined:
    """Two models of the same benchmark (rows listed before it) as one file, by ``pixbench combine``."""

    name: str
    first: str
    second: str
    rule: str = "min"
    eval_args: list[str] = field(default_factory=list)


#: Any row of a benchmark.
Entry = Trained | Baseline | Reuse | Existing | Combined


@dataclass
class Benchmark:
    """One published table: a recipe, how its datasets are built, and the models scored on it."""

    name: str
    recipe: str
    entries: list[Entry]
    build_args: list[str] = field(default_factory=list)
    #: `pixbench evaluate` arguments for every model of this benchmark.
    eval_args: list[str] = field(default_factory=list)
    #: The test sources (keys of TEST_SOURCES) it is built and scored on, one table each.
    sources: tuple[str, ...] = OWN_SOURCES


def _depixelate_x4_entries(kind: str) -> list[Entry]:
    """The rows of the x4 depixelation table of ``kind`` (nearest or lanczos; both score the same models).

    The U-Nets are configured per kind: on mosaics their residual starts from bicubic on the grid,
    on lanczos pixelation from the input (``configs/<model>-<kind>.yaml``).
    """
    return [
        Trained("sepunet-depixelator", config_name=f"sepunet-depixelator-{kind}"),
        Trained("sepunet-restorer", config_name=f"sepunet-restorer-{kind}"),
        Trained("espcn", name="espcn-x4"),
        Baseline("identity", ["--task", "depixelate"]),
        Baseline("bicubic", ["--scale", "4"], name="bicubic-x4"),
        Baseline("lanczos", ["--scale", "4"], name="lanczos-x4"),
        Existing("grid-upscaler-x4", "leaderboards/models/grid-upscaler-x4.onnx"),  # real-time tier
        Existing("grid-upscaler-hq-x4", "leaderboards/models/grid-upscaler-hq-x4.onnx"),  # quality tier
    ]


def _depixelate_factor_entries(factor: int) -> list[Entry]:
    """The rows of a depixelation table at ``factor`` 2 or 8: the baselines and the grid upscalers of that factor."""
    entries: list[Entry] = [
        Baseline("identity", ["--task", "depixelate"]),
        Baseline("bicubic", ["--scale", str(factor)], name=f"bicubic-x{factor}"),
        Baseline("lanczos", ["--scale", str(factor)], name=f"lanczos-x{factor}"),
        Existing(f"grid-upscaler-x{factor}", f"leaderboards/models/grid-upscaler-x{factor}.onnx"),
    ]
    if factor == 2:  # the quality tier has x2 and x4 graphs only (docs/detector.md)
        entries.append(Existing("grid-upscaler-hq-x2", "leaderboards/models/grid-upscaler-hq-x2.onnx"))
    return entries


def _depixelate_benchmarks(kind: str) -> list[Benchmark]:
    """The depixelation tables of ``kind``: the main x4 one, then one per other factor."""
    main = Benchmark(f"depixelate-{kind}-x4", f"depixelate-{kind}", eval_args=X4, entries=_depixelate_x4_entries(kind))
    return [main] + [
        Benchmark(
            f"depixelate-{kind}-x{factor}",
            f"depixelate-{kind}",
            eval_args=["--factor", str(factor)],
            entries=_depixelate_factor_entries(factor),
        )
        for factor in OTHER_FACTORS
    ]


#: The published benchmarks. How each trained row is trained is its file in CONFIGS_DIR.
BENCHMARKS: list[Benchmark] = [
    Benchmark(
        "detect",
        "detect",
        [
            # trained on the detectors' training crops of the 400 BSDS500 photos (issue: numbers that hold
            # on photos no one tuned for), and scored on four test sources, one table each and a page across them
            Trained("sepunet-detector", train_recipe="detect-train", train_source="bsds400"),
            # trained on detect-train version 1 (kept in recipes/history/): its retrain on version 2 scored
            # lower on version 2's own validation crops (leaderboards/README.md)
            Trained("mobilenetv2-classifier", train_recipe="history/detect-train-v1", train_source="bsds400"),
            Existing("grid-detector", "leaderboards/models/grid-detector.onnx"),
            # sepunet-detector confirmed by the grid detector: flags a crop only where both do (`pixbench
            # combine --rule min`, nothing fitted; docs/detector.md, "Combined detectors")
            Combined("sepunet-grid-detector", "sepunet-detector", "grid-detector"),
            Baseline("constant", ["--value", "1.0"]),
        ],
        sources=("kodak", "set14", "set5", "live1"),
    ),
    # detect's models on the negatives web photos are made of (JPEG at any grid phase, double JPEG, shrunk,
    # smooth and near-flat JPEG), with the same positives; read by negative kind
    Benchmark(
        "detect-hard",
        "detect-hard",
        [
            Reuse("sepunet-detector", "detect"),
            Reuse("mobilenetv2-classifier", "detect"),
            Existing("grid-detector", "leaderboards/models/grid-detector.onnx"),
            Reuse("sepunet-grid-detector", "detect"),
            Baseline("constant", ["--value", "1.0"]),
        ],
    ),
    *_depixelate_benchmarks("nearest"),
    *_depixelate_benchmarks("lanczos"),
    Benchmark(
        "blockcnn-triplets",
        "blockcnn-triplets",
        [
            Trained("blockcnn", eval_args=SLOW_SPEED),
            Baseline("identity", ["--task", "blockcnn"]),
        ],
    ),
    Benchmark(
        "jpeg",
        "jpeg",
        [
            Reuse(
                "blockcnn", "blockcnn-triplets", eval_args=SLOW_SPEED
            ),  # slid over whole JPEG images by the evaluator
            Baseline("identity", ["--task", "jpeg"]),
        ],
    ),
    Benchmark(
        "inpaint-2x75",
        "inpaint-2x75",
        [
            Trained("pix2pix-inpainter", eval_args=SLOW_SPEED),
            Baseline("identity", ["--task", "inpaint"]),
            Baseline("biharmonic"),
            Baseline("pushpull"),  # the fill pix2pix-inpainter (fill=true) starts from
        ],
    ),
    # The paper protocols: whole test images, one table per quality, compared with the papers'
    # numbers (PUBLISHED). The identity row is the JPEG input, the papers' "JPEG" row.
    Benchmark(
        "jpeg-gray",
        "jpeg-gray",
        [
            Baseline("identity", ["--task", "jpeg-gray"]),
            Existing("dncnn3", str(THIRDPARTY_DIR / "jpeg-gray/dncnn3.onnx")),  # converted, not committed
            # trained on q10 only, so scored on the q10 samples only: ranked in the by-quality table's q10
            Trained("gray-deblocker", name="gray-deblocker-q10", eval_args=["--quality", "10"], train_source="bsds400"),
        ],
        sources=("classic5", "live1"),
    ),
    # The identity row is the bicubic upscale of the MATLAB-bicubic low-res image: the papers' "Bicubic".
    Benchmark(
        "sr-bicubic",
        "sr-bicubic",
        [
            Baseline("identity", ["--task", "sr-bicubic"]),
            Existing("dncnn3", str(THIRDPARTY_DIR / "sr-bicubic/dncnn3.onnx")),  # converted, not committed
            Existing("vdsr", str(THIRDPARTY_DIR / "sr-bicubic/vdsr.onnx")),  # converted, not committed
            # an x3 model on the low-res image: scored on the x3 samples only, ranked in the by-factor table's x3
            Trained("espcn", name="espcn-x3", eval_args=["--factor", "3"], train_source="bsds400"),
        ],
        sources=("set5", "set14"),
    ),
    # Mosaic localization: a per-pixel map of where an image was pixelated (docs/tasks/localize.md).
    Benchmark(
        "localize",
        "localize",
        [
            Trained("sepunet-segmenter", train_source="bsds400"),
            Baseline("grid-localizer"),
            Baseline("flatness"),
        ],
    ),
]

STEPS = ("build", "train", "export", "baseline", "evaluate", "leaderboard")
