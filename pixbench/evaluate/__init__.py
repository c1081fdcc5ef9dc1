"""Scoring a model on a built dataset: ``pixbench evaluate``, which writes a result file.

:func:`evaluate` checks everything that can be checked cheaply first (the
dataset, the model file, how to feed the model, a probe run, the depixelation
factor), then scores the split, measures speed, and writes the result JSON with
the per-sample CSV and, for restoration tasks, the crops strip beside it. The
format is described in ``docs/result-format.md`` (and owned by
:mod:`pixbench.results`) and the behaviour in ``docs/evaluate.md``.

Modules: :mod:`~pixbench.evaluate.run` (the run itself), :mod:`~pixbench.evaluate.detect`
and :mod:`~pixbench.evaluate.restore` (scoring per task kind), :mod:`~pixbench.evaluate.speed`
(FPS, FLOPs, environment).
"""

from pixbench.evaluate.run import EvaluateOptions, default_output, evaluate

__all__ = ["EvaluateOptions", "evaluate", "default_output"]
