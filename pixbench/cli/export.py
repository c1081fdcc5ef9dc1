"""`pixbench export`: a training checkpoint -> one self-contained ONNX file with pixbench metadata."""

from __future__ import annotations

from pathlib import Path

import typer

from pixbench.cli._common import handle_errors, output_file, say


@handle_errors
def export(
    checkpoint: Path = typer.Argument(..., help="Checkpoint written by `pixbench train` (RUN_DIR/best.pt or last.pt)."),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Destination .onnx file (weights inside it; no external .data file)."
    ),
    atol: float = typer.Option(
        1e-4,
        "--atol",
        min=0.0,
        help="Largest allowed |onnxruntime - torch| in the parity check; the export fails above it.",
    ),
    exporter: str = typer.Option(
        "torchscript", "--exporter", help="torchscript (fast tracing exporter) or dynamo (torch.export-based)."
    ),
) -> None:
    """Export CHECKPOINT to ONNX, write pixbench.* metadata, and check onnxruntime against torch."""
    from pixbench.export import export_checkpoint

    output_file("-o", output)
    report = export_checkpoint(checkpoint, output, atol=atol, exporter=exporter)  # type: ignore[arg-type]
    shape = "dynamic height/width" if report.dynamic_hw else "fixed height/width"
    say(
        "wrote {} ({:.2f} MB, {}); onnxruntime matches torch within {:.2g} (tolerance {:g})",
        report.path,
        report.size_mb,
        shape,
        report.max_abs_diff,
        report.atol,
    )
