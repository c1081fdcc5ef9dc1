"""The result document, in one home: its type, its format name and version, the targets, writing and reading.

``pixbench evaluate`` builds one :class:`Result` per run and writes it with :func:`write_result`;
``pixbench leaderboard`` and ``pixbench compare`` read it back with :func:`read_result`, which
returns the same type. The format is described in ``docs/result-format.md``.

Modules: :mod:`~pixbench.results.document` (the :class:`Result` type and its sections),
:mod:`~pixbench.results.files` (writing, reading and finding result files),
:mod:`~pixbench.results.targets` (the targets each result is checked against),
:mod:`~pixbench.results.values` (metric values by key), :mod:`~pixbench.results.samples`
(the per-sample file beside each result) and :mod:`~pixbench.results.host` (the machine and code
identity every result and training record carries).
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
from pixbench.results.host import (
    SPEED_FLAGS,
    code_identity,
    cpu_identity,
    host_identity,
    host_label,
    isa_class,
    source_revision,
    utc_now,
)
from pixbench.results.samples import LOWER_IS_BETTER, Samples, read_samples, sample_image, samples_path
from pixbench.results.targets import (
    SOURCE_TARGETS,
    TARGET_ACCURACY,
    TARGET_FPS_1080P,
    TARGET_SIZE_MB,
    SourceTarget,
    targets,
)
from pixbench.results.values import (
    METRIC_ALIASES,
    metric,
    number,
    result_value,
    seconds_per_frame,
    training_minutes,
    training_record,
    whole_run_recorded,
)

__all__ = [
    "LOWER_IS_BETTER",
    "METRIC_ALIASES",
    "RESULT_FORMAT",
    "SPEED_FLAGS",
    "RESULT_FORMAT_VERSION",
    "SOURCE_TARGETS",
    "SUBSET_SETTINGS",
    "SourceTarget",
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
    "code_identity",
    "collect_result_files",
    "cpu_identity",
    "hardware_label",
    "host_identity",
    "host_label",
    "isa_class",
    "json_safe",
    "metric",
    "number",
    "read_result",
    "read_samples",
    "result_json",
    "result_value",
    "sample_image",
    "samples_path",
    "seconds_per_frame",
    "source_revision",
    "targets",
    "training_minutes",
    "training_record",
    "utc_now",
    "whole_run_recorded",
    "write_result",
]
