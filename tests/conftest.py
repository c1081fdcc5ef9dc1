"""Shared fixtures: where the optional ../shared datasets are, and tiny synthetic datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_datasets_dir() -> Path | None:
    """``$PIXBENCH_SHARED_DATASETS`` or ``../shared/datasets`` beside the checkout, if present."""
    env = os.environ.get("PIXBENCH_SHARED_DATASETS")
    candidate = Path(env) if env else REPO_ROOT.parent / "shared" / "datasets"
    return candidate if candidate.is_dir() else None


@pytest.fixture
def shared_datasets() -> Path:
    """The folder of real benchmark images; tests that use it skip where it is absent."""
    path = shared_datasets_dir()
    if path is None:
        pytest.skip("../shared/datasets is not present")
    return path


@pytest.fixture(autouse=True)
def _few_torch_threads():
    """Keep torch to one thread in tests so parallel runs do not oversubscribe 2 cores."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
