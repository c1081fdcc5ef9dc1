"""The result document, in one home: its type, its format name and version, the targets, writing and reading.

``pixbench evaluate`` builds one :class:`Result` per run and writes it with :func:`write_result`;
``pixbench leaderboard`` and ``pixbench compare`` read it back with :func:`read_result`, which
returns the same type. The format is described in ``docs/result-format.md``.

Modules: :mod:`~pixbench.results.document` (the :class:`Result` type and its sections),
:mod:`~pixbench.results.files` (writing, reading and finding result files),
:mod:`~pixbench.results.targets` (the targets each result is checked against),
:mod:`~pixbench.results.values` (metric values by key) and :mod:`~pixbench.results.samples`
(the per-sample file beside each result).
"""

from pixbench.results.document import (
    RESULT_FORMAT,
    RESULT_FORMAT_VERSION,
    SUBSET_SETTINGS,
    Crops,
    DatasetInfo,
    Environment,
    Failures,
    Metrics,
    ModelInfo,
    Overrides,
    RecipeRef,
    Result,
    ResultFileError,
    Section,
    Settings,
    Speed,
    Triplets,
    hardware_label,
)
from pixbench.results.files import collect_result_files, json_safe, read_result, result_json, write_result
from pixbench.results.samples import LOWER_IS_BETTER, Samples, read_samples, sample_image, samples_path
from pixbench.results.targets import TARGET_ACCURACY, TARGET_FPS_1080P, TARGET_SIZE_MB, targets
from pixbench.results.values import METRIC_ALIASES, metric, number, result_value, training_minutes

__all__ = [
    "LOWER_IS_BETTER",
    "METRIC_ALIASES",
    "RESULT_FORMAT",
    "RESULT_FORMAT_VERSION",
    "SUBSET_SETTINGS",
    "TARGET_ACCURACY",
    "TARGET_FPS_1080P",
    "TARGET_SIZE_MB",
    "Crops",
    "DatasetInfo",
    "Environment",
    "Failures",
    "Metrics",
    "ModelInfo",
    "Overrides",
    "RecipeRef",
    "Result",
    "ResultFileError",
    "Samples",
    "Section",
    "Settings",
    "Speed",
    "Triplets",
    "collect_result_files",
    "hardware_label",
    "json_safe",
    "metric",
    "number",
    "read_result",
    "read_samples",
    "result_json",
    "result_value",
    "sample_image",
    "samples_path",
    "targets",
    "training_minutes",
    "write_result",
]
