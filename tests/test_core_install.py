"""The core install: building, baselines, evaluation and leaderboards run without torch.

Each test runs the real CLI in a fresh interpreter in which ``torch``, ``torchvision``,
``lpips`` and ``onnxscript`` cannot be imported (an import hook refuses them, as a
missing package would), so anything that reaches for them fails the test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BLOCKED = ("torch", "torchvision", "lpips", "onnxscript")

_RUN = textwrap.dedent(
    """
    import importlib.abc, sys

    class Refuse(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in {blocked!r}:
                raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
            return None

    sys.meta_path.insert(0, Refuse())
    sys.argv = ["pixbench", *{argv!r}]
    from pixbench.cli import app
    try:
        app()
    finally:
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in {blocked!r})
        print("LOADED:", loaded, file=sys.stderr)
    """
)


def _pixbench(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    code = _RUN.format(blocked=BLOCKED, argv=list(argv))
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_build_baseline_evaluate_and_leaderboard_without_torch(tmp_path):
    steps = [
        ("build-dataset", "depixelate-nearest", "-o", "data", "--limit", "2", "--split", "test", "--workers", "1"),
        ("baseline", "bicubic", "--scale", "4", "-o", "bicubic-x4.onnx"),
        (
            "evaluate",
            "bicubic-x4.onnx",
            "-d",
            "data",
            "--factor",
            "4",
            "--runs",
            "1",
            "--warmup",
            "0",
            "-o",
            "results/bicubic.json",
        ),
        ("leaderboard", "results", "-o", "tables"),
    ]
    for argv in steps:
        done = _pixbench(*argv, cwd=tmp_path)
        assert done.returncode == 0, f"{argv[0]}: {done.stderr[-2000:]}"
        assert "LOADED: []" in done.stderr, f"{argv[0]} imported torch: {done.stderr[-500:]}"
    result = json.loads((tmp_path / "results" / "bicubic.json").read_text())
    # Bicubic from the x4 grid beats the pixelated input on photos (docs/tasks/depixelate.md).
    assert result["metrics"]["model"]["psnr"] > result["metrics"]["degraded"]["psnr"]
    assert result["metrics"]["model"].get("lpips") is None
    assert list((tmp_path / "tables").glob("*.md"))


@pytest.mark.parametrize(
    ("argv", "extra"),
    [
        (("train", "espcn", "-d", "data", "-o", "run"), "train"),
        (("export", "run/best.pt", "-o", "m.onnx"), "train"),
    ],
)
def test_commands_that_need_an_extra_say_which_in_one_line(tmp_path, argv, extra):
    done = _pixbench(*argv, cwd=tmp_path)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if not line.startswith("LOADED:")]
    assert lines == [f"error: this needs torch, which is not installed: pip install 'pixbench[{extra}]'"]
