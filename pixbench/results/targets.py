"""pixbench's targets for a model: the accuracy of a detector, the size of the file, the FPS at 1080p.

Every result file says pass or fail for each target that applies to its task (``targets``);
leaderboards check the same thresholds again from the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from pixbench.tasks import get_task

#: The targets: detection accuracy, model size in MB, frames per second at 1920x1080.
TARGET_ACCURACY, TARGET_SIZE_MB, TARGET_FPS_1080P = 0.90, 10.0, 30.0


@dataclass(frozen=True)
class SourceTarget:
    """What a trained detector must reach on every test source: ``accuracy`` at least, ``fpr`` at most."""

    accuracy: float
    fpr: float


#: The reference detectors' targets on every test source of the detect benchmark (Kodak, Set14, Set5,
#: LIVE1), so that their numbers hold on photos no one tuned them for; checked by the leaderboard's
#: page across sources. Keyed by the model's name (``pixbench.model``).
SOURCE_TARGETS = {
    "sepunet-detector": SourceTarget(accuracy=0.95, fpr=0.05),
    "mobilenetv2-classifier": SourceTarget(accuracy=0.92, fpr=0.08),
    # the sepunet-detector confirmed by the grid detector (`pixbench combine --rule min`): held to its first member's targets
    "sepunet-grid-detector": SourceTarget(accuracy=0.95, fpr=0.05),
}


def targets(task: str, accuracy: float | None, size_mb: float, fps_1080p: float | None) -> dict[str, bool | None]:
    """Pass/fail for each target that applies to ``task``; ``None`` where not measured.

    The accuracy target is a classifier's only (detection): other results do not list it.
    """
    out: dict[str, bool | None] = {}
    if get_task(task).classifies:
        out[f"accuracy>={TARGET_ACCURACY:.2f}"] = None if accuracy is None else accuracy >= TARGET_ACCURACY
    out[f"size<={TARGET_SIZE_MB:g}MB"] = size_mb <= TARGET_SIZE_MB
    out[f"fps_1080p>={TARGET_FPS_1080P:g}"] = None if fps_1080p is None else fps_1080p >= TARGET_FPS_1080P
    return out
