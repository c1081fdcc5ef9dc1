"""The ``train min`` column: minutes of training, the curves it links to, and what the minutes cover.

Records written by ``pixbench train`` since whole-run totals exist give the whole run's minutes
(``run_minutes``) besides the kept checkpoint's; older records give only the time up to the kept
(best-validation) checkpoint. The column shows the whole run where it is recorded and the notes
say which the table holds. Training curves (``<stem>.curves.png``, with ``<stem>.metrics.csv``)
committed beside a result are linked from its cell.
"""

from __future__ import annotations

from pathlib import Path

from pixbench.results import Result, training_minutes, whole_run_recorded


def curves_path(result: Result) -> Path | None:
    """``<stem>.curves.png`` beside a result: the training curves of its model, where they were committed."""
    if result.path is None:
        return None
    path = result.path.with_name(result.path.name.removesuffix(".json") + ".curves.png")
    return path if path.is_file() else None


def train_text(result: Result, *, mark_partial: bool) -> str:
    """Minutes to one decimal, ``*`` added with ``mark_partial`` to a record without the whole run; ``""`` without one."""
    minutes = training_minutes(result)
    if minutes is None:
        return ""
    return f"{minutes:.1f}" + ("*" if mark_partial and not whole_run_recorded(result) else "")


def training_notes(results: list[Result]) -> list[str]:
    """What the ``train min`` column holds: whole runs, or (older records) the time up to the kept checkpoint."""
    trained = [r for r in results if training_minutes(r) is not None]
    if not trained:
        return []
    whole = [r for r in trained if whole_run_recorded(r)]
    if not whole:
        return [
            "- train min: the training clock up to the kept checkpoint (best validation score), as `pixbench export` "
            "recorded it (`minutes` of `pixbench.training`); these records predate whole-run totals, so a run "
            "that went on past its kept checkpoint trained longer. Empty for baselines and models without a record."
        ]
    line = (
        "- train min: minutes of the whole training run (`run_minutes` of `pixbench.training`, which also gives "
        "the kept checkpoint's step and minutes), linked to the training curves where they are committed; "
        "empty for baselines and models without a record."
    )
    if len(whole) < len(trained):
        line += " `*`: an older record that holds only the time up to the kept checkpoint."
    return [line]
