"""Which machine and which code made a measurement: the host identity every result and training record carries.

Speed depends on the CPU model and on the vector instructions the machine exposes (a VM of one
type may come with or without AVX-512), on the thread count, and on the onnxruntime, numpy and
Pillow builds; a number is only comparable with another made on the same identity. This module
collects that identity (:func:`host_identity`, :func:`code_identity`) and names it
(:func:`host_label`). Nothing here raises: what cannot be read is recorded as unknown.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from pixbench import __version__

#: CPU flags that change how fast ONNX and numpy kernels run, in the order a label lists them.
#: x86 names as /proc/cpuinfo spells them; ARM names as its ``Features`` line does.
SPEED_FLAGS = (
    "avx2",
    "fma",
    "avx_vnni",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
    "asimd",
    "asimddp",
    "sve",
    "sve2",
    "bf16",
    "i8mm",
)
#: macOS sysctl feature names (upper case) -> the Linux spelling above.
_DARWIN_FLAGS = {"AVX2": "avx2", "FMA": "fma", "AVX512F": "avx512f", "AVX512BW": "avx512bw", "AVX512VL": "avx512vl"}
#: Label of a host whose flags this pixbench could not read (another OS, no /proc/cpuinfo).
UNKNOWN_ISA = "ISA unknown"


def _cpuinfo() -> tuple[str | None, list[str] | None]:
    """CPU model name and the speed flags of /proc/cpuinfo (Linux), or ``(None, None)``."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None, None
    name, flags = None, None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model", "hardware") and name is None:
            name = value.strip() or None
        elif key in ("flags", "features") and flags is None:
            flags = value.split()
    return name, None if flags is None else [f for f in SPEED_FLAGS if f in flags]


def _sysctl(name: str) -> str | None:
    try:
        done = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or None


def _darwin() -> tuple[str | None, list[str] | None]:
    """CPU name and speed flags on macOS; Apple silicon has NEON (``asimd``) on every core."""
    name = _sysctl("machdep.cpu.brand_string")
    if platform.machine() == "arm64":
        return name, ["asimd"]
    words = " ".join(filter(None, (_sysctl("machdep.cpu.features"), _sysctl("machdep.cpu.leaf7_features")))).split()
    if not words:
        return name, None
    found = {_DARWIN_FLAGS[w] for w in words if w in _DARWIN_FLAGS}
    return name, [f for f in SPEED_FLAGS if f in found]


@functools.lru_cache(maxsize=1)
def cpu_identity() -> tuple[str, list[str] | None]:
    """The CPU model name and the :data:`SPEED_FLAGS` it has (None where the OS does not say)."""
    name, flags = _darwin() if sys.platform == "darwin" else _cpuinfo()
    return name or platform.processor() or platform.machine() or "unknown CPU", flags


def isa_class(flags: list[str] | None) -> str:
    """The instruction-set class of a host from its speed flags, e.g. ``AVX-512 VNNI BF16``, ``AVX2``, ``AMX``.

    Two hosts with the same CPU name but a different class time models differently, so the class is
    part of every hardware label.
    """
    if flags is None:
        return UNKNOWN_ISA
    has = set(flags)
    if "amx_tile" in has:
        base = "AMX"
    elif "avx512f" in has:
        base = "AVX-512"
    elif "avx2" in has:
        base = "AVX2"
    elif "sve" in has or "sve2" in has:
        base = "SVE"
    elif "asimd" in has:
        base = "NEON"
    else:
        return "no AVX2"
    extras = [name for flag, name in (("avx512_vnni", "VNNI"), ("avx512_bf16", "BF16")) if flag in has]
    if base == "AVX2" and "avx_vnni" in has:
        extras.append("VNNI")
    return " ".join([base, *extras])


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


@functools.lru_cache(maxsize=1)
def source_revision() -> str:
    """``git describe`` of the checkout pixbench is imported from (``-dirty`` when its sources changed), else ``unknown``.

    Only the package's own checkout counts: a wheel installed inside some other repository reports
    ``unknown``, and so does any failure of git.
    """
    package = Path(__file__).resolve().parent.parent
    root = package.parent
    try:
        top = _git(root, "rev-parse", "--show-toplevel")
        if top is None or Path(top).resolve() != root.resolve():
            return "unknown"
        described = _git(root, "describe", "--always", "--abbrev=12")
        changed = _git(root, "status", "--porcelain", "--untracked-files=no", "--", package.name)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if not described:
        return "unknown"
    return described + ("-dirty" if changed else "")


def _git(cwd: Path, *args: str) -> str | None:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def utc_now() -> str:
    """The current UTC time as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def host_identity() -> dict[str, Any]:
    """The machine: CPU model, its speed flags and ISA class, logical cores, platform, Python."""
    cpu, flags = cpu_identity()
    return {
        "cpu": cpu,
        "cpu_flags": flags,
        "isa": isa_class(flags),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def code_identity() -> dict[str, Any]:
    """The code: pixbench version and source revision, numpy and Pillow versions, and the UTC date."""
    return {
        "pixbench": __version__,
        "revision": source_revision(),
        "numpy": _version("numpy"),
        "pillow": _version("pillow"),
        "date": utc_now(),
    }


def host_label(cpu: Any, isa: Any, platform_name: Any) -> str:
    """A host's name in tables: ``<CPU> (<ISA class>)``.

    A record without an ISA class predates host identities: it is named from what it recorded,
    ``unrecorded host (<CPU>; <platform>)``, so it never shares a label with a recorded host, and two
    old records from different machines (different kernels) do not share one either.
    """
    if isa:
        return f"{cpu or 'unknown CPU'} ({isa})"
    return f"unrecorded host ({cpu or 'unknown CPU'}; {platform_name or 'unknown platform'})"
