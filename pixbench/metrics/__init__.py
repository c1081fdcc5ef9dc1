"""Image-quality and classification metrics with stated conventions (see ``docs/metrics.md``).

Every function scores one image pair (or one set of predictions) and returns plain
Python numbers; dataset means are taken explicitly with :func:`aggregate`, and their uncertainty
with :func:`bootstrap_ci` and :func:`paired_difference` (``docs/statistics.md``).
"""

from pixbench.metrics.aggregate import aggregate
from pixbench.metrics.classification import breakdown, calibration, classification_metrics
from pixbench.metrics.perceptual import LPIPS
from pixbench.metrics.restoration import blocking_effect_factor, masked_metrics, psnr, psnr_b, restoration_metrics, ssim
from pixbench.metrics.statistics import STATISTICS, Interval, PairedDifference, bootstrap_ci, paired_difference
from pixbench.threads import get_threads, set_threads

__all__ = [
    "LPIPS",
    "STATISTICS",
    "Interval",
    "PairedDifference",
    "aggregate",
    "blocking_effect_factor",
    "bootstrap_ci",
    "breakdown",
    "calibration",
    "classification_metrics",
    "get_threads",
    "masked_metrics",
    "paired_difference",
    "psnr",
    "psnr_b",
    "restoration_metrics",
    "set_threads",
    "ssim",
]
