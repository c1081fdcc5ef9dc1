"""`pixbench build` (placeholder until its issue lands)."""

from pixbench.cli._common import fail, handle_errors


@handle_errors
def build_dataset() -> None:
    """Not available yet in this version of pixbench."""
    raise fail("this command is not available yet")
