"""`pixbench combine FIRST SECOND -o FILE`: two detectors as one ONNX file that applies a rule to both."""

from __future__ import annotations

from pathlib import Path

import typer

from pixbench.cli._common import handle_errors, output_file, say


@handle_errors
def combine(
    first: Path = typer.Argument(
        ..., help="A detector (.onnx with pixbench metadata); the combined file takes images the way this one does."
    ),
    second: Path = typer.Argument(..., help="The other detector; the image is converted to its range and layout."),
    output: Path = typer.Option(..., "--output", "-o", help="The combined .onnx file to write."),
    rule: str = typer.Option(
        "min",
        "--rule",
        help=(
            "min: flag an image only where both do (the second confirms the first; no more false alarms than either); "
            "max: where either does; mean: the mean of the two probabilities."
        ),
    ),
    name: str | None = typer.Option(
        None, "--name", help="The model name the file declares (pixbench.model); default FIRST+SECOND."
    ),
) -> None:
    """Combine two detectors into one ONNX file that `pixbench evaluate` scores like any detector.

    Nothing is fitted: each member is read as `pixbench evaluate` reads a detector (its first output value per image, as the probability or logit its metadata declares), and the rule is applied to the two. Members must take any image size. The file is written only after it and its members have been run on two test images and it agreed with the rule over theirs (docs/detector.md, "Combined detectors").
    """
    from pixbench.combine import combine_files

    output_file("-o", output)
    report = combine_files(first, second, output, rule=rule, name=name)
    say(
        "wrote {} ({:.2f} MB, rule {}); agrees with its members within {:.2g}",
        report.path,
        report.size_mb,
        rule,
        report.max_abs_diff,
    )
