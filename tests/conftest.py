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


def load_script(path: Path, name: str):
    """Import the script at ``path`` as module ``name`` and yield it (for fixtures), removing it afterwards.

    The module is registered while it runs: dataclasses look their module up while the class is made.
    """
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]
