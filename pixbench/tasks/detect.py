"""``detect``: is this crop pixelated? A detector outputs one probability per crop."""

from __future__ import annotations

from pixbench.tasks.base import Column, Task

TASK = Task(
    name="detect",
    restores=False,
    primary="accuracy",
    ops=("pixelate",),
    files=("input",),
    metadata=("label", "factor", "down_kernel", "up_kernel", "negative_kind", "quality"),
    inputs="crop, pixelated where label=1",
    breakdown=("factor", "down_kernel", "up_kernel", "quality", "negative_kind"),
    columns=(
        Column("accuracy", "accuracy", "accuracy", "pct"),
        Column("precision", "precision", "precision", "pct"),
        Column("recall", "recall", "recall", "pct"),
        Column("f1", "F1", "f1", "pct"),
        Column("fp_rate", "FP rate", "fpr", "pct"),
        Column("roc_auc", "ROC-AUC", "roc_auc", "f4"),
    ),
)
