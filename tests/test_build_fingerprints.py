"""Pinned dataset fingerprints: a shipped recipe at a published version builds the same bytes forever.

The bytes of PNG and JPEG files depend on the Pillow, zlib and libjpeg builds, which every
dataset names in ``dataset.json["encoders"]``. Each golden below is therefore pinned together
with the encoder strings it was made with: with the same encoders the fingerprint must match
exactly; with other encoders the test skips and names both, so a new Pillow shows up as a
visible skip (re-pin after checking that only the encoder changed), never as a silent pass.
"""

import pytest

from pixbench.builder import build_dataset
from pixbench.datasets import open_dataset
from pixbench.recipes import resolve_recipe, shipped_recipes
from pixbench.tasks import get_task

# How the goldens were produced: for each shipped recipe, the embedded source (scikit-image's
# photos) limited to its first image, astronaut.png, which lands in train by its pixel hash:
#     pixbench build-dataset NAME -o OUT --limit 1 [--split test]
# run at commit d0692ad with --workers 1 (library call) and --workers 2 (CLI), which gave the
# same fingerprints; the builds by fractions also equal the builder of commit 298d2a1, from
# before --split existed (so adding the option changed no published fingerprint).
GOLDEN_ENCODERS = {
    "jpeg": "Pillow 13.0.0 / libjpeg-turbo 3.2.0 (libjpeg API 6.2)",
    "png": "Pillow 13.0.0 / zlib 1.2.13",
}
GOLDEN = {
    ("blockcnn-triplets", None): "sha256:ed3048ac948884f5e52faf885b9e2969438b33d65c14da632d6eaa25df1faab3",
    ("depixelate-lanczos", None): "sha256:5c71d740b8f1aff0dfa608c2047a575a05cd68c415296633b35f65aa8731b0bc",
    ("depixelate-nearest", None): "sha256:47052be5a86b02fbab0c27d014175cafd00bb9099034131a005c228a74ad32fd",
    ("depixelate-nearest", "test"): "sha256:ee653cfa776aa3d437039f6ad8e0f88567b52502a1cfd402f2b3a701119088da",
    ("detect", None): "sha256:95c8f317aad4a7569098058757cde520f9f083df6883c5aa9fcb26cea9a60280",
    # detect-hard: pinned when it was added, same command and encoders
    ("detect-hard", None): "sha256:aaa347a28d77524608c3377e87f68da14749acb57b657b268b6d2f90824855c2",
    # detect-train: version 2 (texture and enlarged negatives; version 1 gave af93dd35...), pinned
    # when it was published, same command and encoders, --workers 1
    ("detect-train", None): "sha256:4fc7d25cf2069d390762e637d36a36dcf1012d7dc053aa40b91da095bb4c4722",
    ("inpaint-2x75", None): "sha256:eb356f61d26ecab61ca282def518d69f94b6ce712947eed0073bf05702fc69f9",
    ("jpeg", None): "sha256:7971fbe0ac984f69069024dbdd24d7412bd7aaea4c24cc47cdbc5013355b88ef",
    # jpeg-gray: pinned when it was added, same command and encoders (--workers 1 and 2 agree)
    ("jpeg-gray", None): "sha256:4a828183c658887cf27bbd7b97b667405d0455702ec2fa9781592634b68a1b34",
    # sr-bicubic: pinned when it was added, same command and encoders (--workers 1 and 2 agree)
    ("sr-bicubic", None): "sha256:2f4f9419979f30905745f8871406eeed1d64f928bf0294c5c9da642ce7d4d9a5",
    # localize: pinned when it was added, same command and encoders (--workers 1 and 2 agree)
    ("localize", None): "sha256:5e78c4cde8229ac799dbee728386a9d10339aa27144741c1c50a28455f082347",
    ("localize", "test"): "sha256:7929da2bd4f929c5552609cbadee954dd971b98fa860d4172faa0404c17cb9a7",
}


def test_every_shipped_recipe_has_a_golden():
    assert {name for name, _ in GOLDEN} == set(shipped_recipes())


@pytest.mark.parametrize(
    ("name", "split"), sorted(GOLDEN, key=lambda k: (k[0], k[1] or "")), ids=lambda v: v or "fractions"
)
def test_fingerprint_is_pinned(tmp_path, name, split):
    recipe, _ = resolve_recipe(name)
    info = build_dataset(recipe, tmp_path / "out", limit=1, split=split, workers=1).info
    samples = get_task(recipe.task).samples_per_image(recipe)  # crops, or one whole image per level
    assert info["splits"] == {split or "train": {"samples": samples, "source_images": 1}}
    if info["encoders"] != GOLDEN_ENCODERS:
        pytest.skip(
            f"encoders differ, so the bytes may: golden made with {GOLDEN_ENCODERS}, this build used {info['encoders']}"
        )
    assert info["fingerprint"] == GOLDEN[(name, split)]


# The Parquet layout stores the same sample bytes and lists the same files, so it reports the same
# pinned fingerprints (one recipe per kind of dataset: plain pairs, triplet arrays on disk beside the
# shards, detection's empty cells, a forced split, one-channel images, whole images with their low-res grids).
@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("jpeg", None),
        ("blockcnn-triplets", None),
        ("detect", None),
        ("depixelate-nearest", "test"),
        ("jpeg-gray", None),
        ("sr-bicubic", None),
    ],
    ids=lambda v: v or "fractions",
)
def test_a_parquet_build_has_the_pinned_fingerprint(tmp_path, name, split):
    recipe, _ = resolve_recipe(name)
    info = build_dataset(recipe, tmp_path / "out", limit=1, split=split, workers=1, layout="parquet").info
    assert info["layout"] == "parquet" and list((tmp_path / "out").rglob("*.parquet"))
    encoders = {k: info["encoders"][k] for k in GOLDEN_ENCODERS}
    if encoders != GOLDEN_ENCODERS:
        pytest.skip(
            f"encoders differ, so the bytes may: golden made with {GOLDEN_ENCODERS}, this build used {encoders}"
        )
    assert info["fingerprint"] == GOLDEN[(name, split)]
    dataset = open_dataset(tmp_path / "out")  # and every sample reads back, verified
    assert sum(1 for s in dataset.splits for _ in dataset.split(s)) == sum(
        c["samples"] for c in info["splits"].values()
    )
