"""The compiled metric kernels: job splits, thread-count independence, the fused call, lazy imports."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from skimage.metrics import structural_similarity as sk_ssim

from pixbench.metrics import get_threads, psnr, psnr_b, restoration_metrics, set_threads, ssim
from pixbench.metrics.restoration import SSIM_ROWS_PER_JOB, SSIM_TILE

SK = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False)

# Large enough for several column tiles (W - 10 > 2 * SSIM_TILE) and row bands, with a last
# band of an odd number of rows (the kernel makes output rows in pairs).
H = 2 * SSIM_ROWS_PER_JOB + 10 + 9
W = 2 * SSIM_TILE + 10 + 77


def pair(shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """A smooth gradient with texture, and a noisy, blocky copy of it."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    base = 120 + 80 * np.sin(xx / 37.0) * np.cos(yy / 23.0) + rng.normal(0, 12, shape[:2])
    ref = np.clip(base[..., None] + np.arange(shape[2] if len(shape) == 3 else 1) * 9, 0, 255)
    ref = ref.reshape(shape).astype(np.uint8)
    blocky = ref.astype(float)
    blocky[:, ::8] += 6  # a step at every block boundary column
    test = np.clip(blocky + rng.normal(0, 9, shape), 0, 255).astype(np.uint8)
    return ref, test


def test_job_split_covers_the_image_exactly():
    """Across tiles, bands and an odd last band, SSIM equals skimage's to rounding error."""
    assert (H - 10) % SSIM_ROWS_PER_JOB % 2 == 1 and W - 10 > 2 * SSIM_TILE
    ref, test = pair((H, W, 3))
    # A missed or doubled row or column would move the mean by ~1e-4, far above these tolerances.
    assert ssim(ref, test, data_range=255) == pytest.approx(
        sk_ssim(ref, test, data_range=255, channel_axis=-1, **SK), abs=1e-12
    )
    grey_ref, grey_test = ref[..., 1], test[..., 1]
    assert ssim(grey_ref, grey_test, data_range=255) == pytest.approx(
        sk_ssim(grey_ref, grey_test, data_range=255, **SK), abs=1e-12
    )
    assert ssim(ref / 255.0, test / 255.0, data_range=1.0) == pytest.approx(
        sk_ssim(ref, test, data_range=255, channel_axis=-1, **SK), abs=1e-12
    )


def _all_values(ref: np.ndarray, test: np.ndarray) -> list[float]:
    return [
        ssim(ref, test, data_range=255),
        ssim(ref, test, data_range=255, channel="y"),
        psnr(ref, test, data_range=255),
        psnr(ref, test, data_range=255, channel="y"),
        psnr_b(ref, test, data_range=255),
        psnr_b(ref, test, data_range=255, channel="rgb"),
        ssim(ref / 255.0, test / 255.0, data_range=1.0),
        psnr_b(ref / 255.0, test / 255.0, data_range=1.0),
        *restoration_metrics(ref, test, data_range=255).values(),
    ]


def test_results_are_bit_identical_for_any_thread_count():
    if (os.cpu_count() or 1) < 2:
        pytest.skip("a single CPU here; nothing to compare")
    ref, test = pair((H, W, 3))
    before = get_threads()
    try:
        set_threads(1)
        one = _all_values(ref, test)
        set_threads(2)
        two = _all_values(ref, test)
        set_threads(None)
        every = _all_values(ref, test)
    finally:
        set_threads(before)
    # Exact equality, not approx: partial sums are added in an order fixed by the image size.
    assert one == two == every


def test_set_threads_checks_its_argument():
    limit = os.cpu_count() or 1
    before = get_threads()
    try:
        assert set_threads(1) == before
        assert get_threads() == 1
    finally:
        set_threads(before)
    for bad in (0, limit + 1, 1.5, True):
        with pytest.raises(ValueError, match=rf"threads must be an integer from 1 to {limit}.*got {bad!r}"):
            set_threads(bad)


def test_restoration_metrics_equals_the_separate_functions():
    ref, test = pair((H, W, 3))
    got = restoration_metrics(ref, test, data_range=255)
    # uint8: every sum is exact or taken in the same order, so the values are identical.
    assert got == {
        "psnr": psnr(ref, test, data_range=255),
        "ssim": ssim(ref, test, data_range=255),
        "psnr_b": psnr_b(ref, test, data_range=255),
    }
    # The steps at the block boundaries give a positive BEF: PSNR-B is below PSNR on the same Y plane.
    assert got["psnr_b"] < psnr(ref, test, data_range=255, channel="y") - 0.1
    f_ref, f_test = ref / 255.0, test / 255.0
    floats = restoration_metrics(f_ref, f_test, data_range=1.0)
    assert floats["psnr"] == pytest.approx(psnr(f_ref, f_test, data_range=1.0), abs=1e-9)
    assert floats["ssim"] == ssim(f_ref, f_test, data_range=1.0)
    assert floats["psnr_b"] == psnr_b(f_ref, f_test, data_range=1.0)
    with pytest.raises(ValueError, match="block_size must be an integer >= 2, got 1"):
        restoration_metrics(ref, test, data_range=255, block_size=1)
    with pytest.raises(ValueError, match=r"reference \(.*\), test \(4, 4, 3\)"):
        restoration_metrics(ref, test[:4, :4], data_range=255)


def test_importing_metrics_loads_no_compiler_and_no_heavy_modules():
    code = (
        "import sys, pixbench.metrics; "
        "print(sorted(m for m in ('numba', 'scipy.stats', 'pandas', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_job_errors_reach_the_caller_and_all_results_come_back_in_order():
    from pixbench.threads import run_jobs

    before = get_threads()
    try:
        set_threads(None)
        assert run_jobs(lambda j: j * j, 50) == [j * j for j in range(50)]

        def failing(j: int) -> int:
            if j == 7:
                raise RuntimeError("job 7 failed")
            return j

        with pytest.raises(RuntimeError, match="job 7 failed"):
            run_jobs(failing, 20)
    finally:
        set_threads(before)
