"""Hostile inputs: recipes, model files and downloads that must fail in one clear line, fast.

Every input is generated here: recipe text, hand-made ONNX graphs (``onnx.helper``), JSON
model files, and a loopback HTTP server on 127.0.0.1 that this file starts and stops.
"""

from __future__ import annotations

import copy
import http.server
import io
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from onnx import TensorProto, helper
from PIL import Image

from pixbench.builder import build_dataset
from pixbench.errors import ImageDecodeError, ModelError, RecipeError, SourceError
from pixbench.images import MAX_PIXELS, decode_image
from pixbench.recipes import load_recipe_file, parse_recipe, shipped_recipes
from pixbench.runtime import load_model, resolve_spec
from pixbench.sources import SourceItem, load_pixels, open_source
from tests.conftest import REPO_ROOT

BASE = {
    "name": "tiny",
    "version": 1,
    "task": "depixelate",
    "seed": 1,
    "source": "embedded",
    "crop": {"size": 16, "per_image": 1, "align": 4},
    "splits": {"train": 1.0, "val": 0.0, "test": 0.0},
    "degradations": [{"op": "pixelate", "factors": [2, 4], "down_kernels": ["box"], "up_kernels": ["nearest"]}],
}


def one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text and len(text) < 400, text
    return text


# --------------------------------------------------------------------------- recipes (class 6)


def _recipe_text(**changes) -> str:
    data = copy.deepcopy(BASE)
    data.update(changes)
    return yaml.safe_dump(data)


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [*{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}]\n" for a, b in zip("abcdefgh", "bcdefghi")
)


@pytest.mark.parametrize(
    "text,match",
    [
        # before: accepted as version 1; now: strict types
        (_recipe_text(version=True), r"version: Input should be a valid integer \(got True\)"),
        (_recipe_text(version="1"), r"version: Input should be a valid integer \(got '1'\)"),
        (_recipe_text(version=1.0), r"version: Input should be a valid integer \(got 1.0\)"),
        (_recipe_text(seed="7"), r"seed: Input should be a valid integer"),
        (_recipe_text(crop={"size": 16.0, "per_image": 1, "align": 4}), r"crop.size: Input should be a valid integer"),
        (_recipe_text(splits={"train": True, "val": 0, "test": 0}), r"splits.train: Input should be a valid number"),
        # billion laughs: refused before anything walks the expansion (before: minutes and gigabytes)
        (BOMB, r"YAML refused: expands to more than 10000 YAML nodes \(an alias bomb\?\) at line \d+"),
        ("a: &a [*a]\n", r"YAML refused: recursive alias at line 1"),
        ("a: " + "[" * 3000 + "]" * 3000 + "\n", r"YAML refused: nested deeper than 32 levels at line 1"),
        (_recipe_text() + "seed: 2\n", r"YAML refused: duplicate key 'seed' at line \d+"),
        ("- name: tiny\n- version: 1\n", r"expected a mapping of recipe fields \(name, version, \.\.\.\), got a list"),
        ("just a string\n", r"expected a mapping of recipe fields .* got a str: 'just a string'"),
        ("", r"the recipe is empty"),
        ("# only a comment\n", r"the recipe is empty"),
        (_recipe_text() + "x: \x07\n", r"not valid YAML: unacceptable character #x0007 at offset \d+"),
        (_recipe_text() + "---\nname: again\n", r"not valid YAML at line \d+, column 1: but found another document"),
        (
            _recipe_text(seed="2025-01-02").replace("'2025-01-02'", "2025-01-02"),
            r"seed: Input should be a valid integer \(got datetime.date\(2025, 1, 2\)\)",
        ),
    ],
)
def test_bad_recipe_text_is_one_line(tmp_path, text, match):
    path = tmp_path / "r.yaml"
    path.write_text(text, encoding="utf-8")
    start = time.monotonic()
    with pytest.raises(RecipeError, match=match) as info:
        load_recipe_file(path)
    assert str(path) in one_line(info)
    assert time.monotonic() - start < 2


@pytest.mark.parametrize(
    "raw,match",
    [
        (
            "description: Mosa\xefc\n".encode("latin-1"),
            r"not UTF-8 text \(byte 0xef at offset 17\); save the recipe as UTF-8",
        ),
        (b"name: tiny\x00\n", r"NUL byte at offset 10; a recipe is a UTF-8 YAML text file"),
        (b"\xff\xfe" + "name: x\n".encode("utf-16-le"), r"not UTF-8 text \(byte 0xff at offset 0\)"),
        (b"# " + b"x" * (70 * 1024), r"larger than 65536 bytes; a recipe is a short YAML file"),
    ],
)
def test_recipe_files_that_are_not_small_utf8_text(tmp_path, raw, match):
    path = tmp_path / "r.yaml"
    path.write_bytes(raw)
    with pytest.raises(RecipeError, match=match) as info:
        load_recipe_file(path)
    one_line(info)


@pytest.mark.parametrize(
    "field,value,shown",
    [
        (
            "name",
            "x" * 100_000,
            r"name: String should have at most 64 characters \(got 'x{79}… \(100000 characters\)\)",
        ),
        (
            "source",
            ["embedded"] * 50_000,
            r"source: Input should be a valid string \(got \['embedded', .*… \(\d+ characters as text\)\)",
        ),
        ("k" * 5000, 1, r"'k{79}… \(5000 characters\): unknown key; allowed keys: name, version"),
        ("bad\nkey", 1, r"'bad\\nkey': unknown key"),
    ],
)
def test_huge_or_odd_values_are_never_echoed_in_full(field, value, shown):
    data = copy.deepcopy(BASE)
    data[field] = value
    with pytest.raises(RecipeError, match=shown) as info:
        parse_recipe(data, origin="<r>")
    one_line(info)


def test_shipped_recipes_stay_valid_and_small_anchors_still_work(tmp_path):
    for path in shipped_recipes().values():
        # versions themselves are pinned in test_recipes.py (VERSIONS); here only that each loads as one
        assert "&" not in path.read_text() and load_recipe_file(path).version >= 1
    # anchors within the budget still work (a user may share a kernel list)
    text = yaml.safe_dump(BASE, default_flow_style=False).replace("- box", "- &k box").replace("- nearest", "- *k")
    path = tmp_path / "anchors.yaml"
    path.write_text(text)
    assert "&k" in text and load_recipe_file(path).degradations[0].up_kernels == ["box"]


# --------------------------------------------------------------------------- models (class 7)

FLOAT = TensorProto.FLOAT


def onnx_model(
    path: Path, *, inputs: list[tuple[str, list]], out_shape: list | None = None, props: dict[str, str] | None = None
) -> Path:
    """``y = first input`` (Identity), with the given input shapes and props."""
    ins = [helper.make_tensor_value_info(n, FLOAT, s) for n, s in inputs]
    src = inputs[0][0] if inputs else "c"
    nodes = (
        [helper.make_node("Identity", [src], ["y"])]
        if inputs
        else [helper.make_node("Constant", [], ["y"], value=helper.make_tensor("v", FLOAT, [1, 3, 4, 4], [0.0] * 48))]
    )
    if out_shape is not None and inputs and len(out_shape) != len(inputs[0][1]):
        nodes = [helper.make_node("ReduceMean", [src], ["y"], axes=list(range(1, len(inputs[0][1]))), keepdims=0)]
    outs = [helper.make_tensor_value_info("y", FLOAT, out_shape or (inputs[0][1] if inputs else [1, 3, 4, 4]))]
    model = helper.make_model(helper.make_graph(nodes, "g", ins, outs), opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    if props:
        helper.set_model_props(model, props)
    path.write_bytes(model.SerializeToString())
    return path


IMG = [("x", ["N", 3, "H", "W"])]


@pytest.mark.parametrize("value", ["four", "4.5", "-2", "1e9", "0", "65", " 4", "٤", "4" * 500])
def test_non_numeric_scale_prop_is_one_line_before_any_work(tmp_path, value):
    # before: int("four") -> ValueError traceback after the probe run
    model = load_model(onnx_model(tmp_path / "m.onnx", inputs=IMG, props={"pixbench.scale": value}))
    with pytest.raises(
        ModelError,
        match=r"m.onnx: metadata prop pixbench.scale=.* is not a whole number "
        r"from 1 to 64",
    ) as info:
        resolve_spec(model, "depixelate")
    one_line(info)


@pytest.mark.parametrize(
    "prop,value",
    [
        ("layout", "NCHW"),
        ("layout", "chw"),
        ("range", "0-1"),
        ("channels", "bgr"),
        ("input", "small"),
        ("mask_input", "alpha"),
        ("output", "score"),
    ],
)
def test_every_choice_prop_is_checked_in_one_place(tmp_path, prop, value):
    model = load_model(onnx_model(tmp_path / "m.onnx", inputs=IMG, props={f"pixbench.{prop}": value}))
    with pytest.raises(ModelError, match=rf"metadata prop pixbench.{prop}='{value}' is not one of .*onnx-metadata"):
        resolve_spec(model, "jpeg")


@pytest.mark.parametrize("shape", [[1, 3, 50000, 50000], [1, 50000, 50000, 3], [2048, 3, 8, 8], [1024, 3, 4096, 4096]])
def test_huge_fixed_input_is_refused_before_allocating(tmp_path, shape):
    # before: a 28 GB allocation for the probe run of the 50000x50000 model
    model = load_model(onnx_model(tmp_path / "m.onnx", inputs=[("x", shape)]))
    start = time.monotonic()
    with pytest.raises(
        ModelError,
        match=r"fixed input x\[.*\] is too large: evaluate feeds batches of at most 1024, "
        r"sides of at most 8192 pixels",
    ) as info:
        resolve_spec(model, "jpeg")
    one_line(info)
    assert time.monotonic() - start < 1


def test_largest_allowed_fixed_batch_still_resolves(tmp_path):
    model = load_model(onnx_model(tmp_path / "m.onnx", inputs=[("x", [1024, 3, 8, 8])]))
    assert resolve_spec(model, "jpeg").batch == 1024


@pytest.mark.parametrize(
    "kind,match",
    [
        ("no_inputs", r"expected one 4-D image input .* got no inputs"),
        ("two_images", r"two image inputs only make sense for inpaint, not 'jpeg'"),
        ("rank2_input", r"expected one 4-D image input .* got x\[\?,\?\]"),
        ("rank2_output", r"expected a 4-D image output, got shape \(1,\)"),
    ],
)
def test_models_with_the_wrong_inputs_or_outputs(tmp_path, kind, match):
    path = tmp_path / "m.onnx"
    if kind == "no_inputs":
        onnx_model(path, inputs=[])
    elif kind == "two_images":
        onnx_model(path, inputs=IMG + [("z", ["N", 3, "H", "W"])])
    elif kind == "rank2_input":
        onnx_model(path, inputs=[("x", ["N", "C"])])
    else:
        onnx_model(path, inputs=IMG, out_shape=["N", 3])
    with pytest.raises(ModelError, match=match) as info:
        resolve_spec(load_model(path), "jpeg")
    one_line(info)


@pytest.mark.parametrize("raw", [b"", b"not onnx at all", None, b"\x08\x07" + b"\xff" * 40])
def test_files_that_are_not_onnx(tmp_path, raw):
    path = tmp_path / "m.onnx"
    if raw is None:  # a real model cut in half
        whole = onnx_model(tmp_path / "whole.onnx", inputs=IMG).read_bytes()
        raw = whole[: len(whole) // 2]
    path.write_bytes(raw)
    with pytest.raises(ModelError, match=r"m.onnx: not a loadable ONNX model") as info:
        load_model(path)
    one_line(info)


GOOD_DOC = '{"format": "pixbench-python-model", "format_version": 1, "baseline": "biharmonic", "props": {}}'


@pytest.mark.parametrize(
    "text,match",
    [
        ('{"format": ', r"not valid JSON at line 1, column 12: Expecting value; expected a pixbench-python-model file"),
        ("{" * 5000, r"not valid JSON"),
        (
            '{"format": "pixbench-python-model", "format_version": true, "baseline": "biharmonic"}',
            r"format_version True is not supported \(this pixbench reads 1\)",
        ),
        (
            '{"format": "pixbench-python-model", "format_version": "1", "baseline": "biharmonic"}',
            r"format_version '1' is not supported",
        ),
        ('{"format": 7, "format_version": 1}', r"not a pixbench-python-model file \(format is 7\)"),
        (GOOD_DOC.replace('"biharmonic"', "5"), r"baseline 5 is not one of biharmonic"),
        (GOOD_DOC.replace('"biharmonic"', '"bihar"'), r"baseline 'bihar' is not one of biharmonic"),
        (GOOD_DOC.replace('"biharmonic"', '["biharmonic"]'), r"baseline \['biharmonic'\] is not one of"),
        (
            GOOD_DOC.replace('"props": {}', '"props": ["pixbench.task"]'),
            r"props must be a JSON object .* got a JSON list",
        ),
        (
            GOOD_DOC.replace('"props": {}', '"props": {"pixbench.task": {"a": 1}}'),
            r"props\['pixbench.task'\] must be a string or a number, got \{'a': 1\}",
        ),
        (GOOD_DOC.replace('"props": {}', '"props": {}, "weights": "x"'), r"unknown field 'weights'"),
        (GOOD_DOC.replace('"props": {}', '"props": {"pixbench.scale": "two"}'), None),
    ],
)
def test_python_model_files_with_wrong_fields(tmp_path, text, match):
    path = tmp_path / "m.json"
    path.write_text(text)
    with pytest.raises(ModelError, match=match or "pixbench.scale='two' is not a whole number") as info:
        resolve_spec(load_model(path), "inpaint")
    one_line(info)


def test_python_model_file_not_utf8_or_huge(tmp_path):
    path = tmp_path / "m.json"
    path.write_bytes(b'{"format": "\xff"}')
    with pytest.raises(ModelError, match=r"not UTF-8 text \(byte at offset 12\)"):
        load_model(path)
    path.write_bytes(b"{" + b" " * (1 << 20) + b"}")
    with pytest.raises(ModelError, match=r"larger than 1048576 bytes"):
        load_model(path)


# --------------------------------------------------------------------------- downloads (class 8)


def _png(size: int = 32) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (size, size, 3), np.uint8)).save(buf, "PNG")
    return buf.getvalue()


GOOD = _png()
OTHER = _png(40)  # a second good image, with other pixels


class _Hostile(http.server.BaseHTTPRequestHandler):
    """Serves one behaviour per path; every loop is bounded."""

    def log_message(self, *args) -> None:
        pass

    def _head(self, code: int, length: int | None = None, **headers: str) -> None:
        self.send_response(code)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = self.path
        try:
            if path == "/good.png":
                self._head(200, len(GOOD))
                self.wfile.write(GOOD)
            elif path == "/other.png":
                self._head(200, len(OTHER))
                self.wfile.write(OTHER)
            elif path == "/truncated.png":  # promises more than it sends, then hangs up
                self._head(200, len(GOOD) + 1000)
                self.wfile.write(GOOD)
            elif path == "/trickle.png":  # one byte every 0.1 s: the socket timeout never fires
                self._head(200, len(GOOD))
                for byte in GOOD[:60]:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.1)
            elif path == "/loop":
                self._head(302, 0, Location="/loop")
            elif path == "/to-ftp":
                self._head(302, 0, Location="ftp://127.0.0.1/x.png")
            elif path == "/oversized-declared":
                self._head(200, 10_000_000)
            elif path == "/oversized-undeclared":  # no Content-Length: the body just keeps coming
                self._head(200)
                for _ in range(50):
                    self.wfile.write(b"\0" * 1000)
            elif path == "/not-an-image.png":
                self._head(200, 5)
                self.wfile.write(b"hello")
            else:
                self._head(404, 0)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
            pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _item(url: str, tmp_path: Path, **kw) -> SourceItem:
    return SourceItem(source_id=url, url=url, cache_dir=str(tmp_path / "cache"), **kw)


def test_good_png_downloads_and_is_cached(server, tmp_path):
    assert load_pixels(_item(f"{server}/good.png", tmp_path)).shape == (32, 32, 3)
    assert len(list((tmp_path / "cache").glob("*.json"))) == 1


@pytest.mark.parametrize(
    "name,match,kw",
    [
        ("truncated.png", r"/truncated.png: (truncated download|download failed: IncompleteRead)", {}),
        (
            "trickle.png",
            r"/trickle.png: download took longer than its deadline of 0.8 s \(\d+ bytes received\)",
            {"deadline_s": 0.8},
        ),
        ("missing.png", r"/missing.png: HTTP 404", {}),
        ("loop", r"/loop: HTTP 302 The HTTP server returned a redirect error that would lead to an infinite loop", {}),
        (
            "to-ftp",
            r"/to-ftp: redirected to ftp://127.0.0.1/x.png, which is not fetched: only http:// and https://",
            {},
        ),
        ("oversized-declared", r"10000000 bytes exceeds the download limit of 20000", {"max_bytes": 20_000}),
        ("oversized-undeclared", r"more than the download limit of 20000 bytes", {"max_bytes": 20_000}),
    ],
)
def test_bad_downloads_fail_fast_and_are_never_cached(server, tmp_path, name, match, kw):
    start = time.monotonic()
    with pytest.raises(ImageDecodeError, match=match) as info:
        load_pixels(_item(f"{server}/{name}", tmp_path, **kw))
    assert f"{server}/{name}" in one_line(info) and str(tmp_path) not in str(info.value)
    assert time.monotonic() - start < 3
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_undecodable_download_names_the_url_not_the_cache_file(server, tmp_path):
    with pytest.raises(ImageDecodeError, match=r"/not-an-image.png: cannot decode image") as info:
        load_pixels(_item(f"{server}/not-an-image.png", tmp_path))
    assert str(tmp_path / "cache") not in one_line(info)


def test_corrupt_cache_record_is_downloaded_again(server, tmp_path):
    item = _item(f"{server}/good.png", tmp_path)
    load_pixels(item)
    record = next((tmp_path / "cache").glob("*.json"))
    record.write_text("{not json")
    assert load_pixels(item).shape == (32, 32, 3)
    assert "sha256" in record.read_text()


@pytest.mark.parametrize(
    "url,match",
    [
        ("example.com/a.png", "only http:// and https://"),
        ("ftp://example.com/a.png", "only http:// and https://"),
        ("http://exa mple.com/a.png", "contains spaces or control characters"),
        ("http://127.0.0.1/a\nb.png", "contains spaces or control characters"),
        ("http:///a.png", r"no host name \(expected http://host/path\)"),
        ("http://", "no host name"),
        ("http://[::1/a.png", r"malformed URL \(Invalid IPv6 URL\)"),
        ("http://127.0.0.1:99999/a.png", r"malformed URL \(Port out of range"),
        ("http://exé.com/é.png", "contains non-ASCII characters"),
        (
            "http://127.0.0.1/" + "a" * 5000,
            r"^'http://127.0.0.1/a{62}… \(5017 characters\): longer than 2048 characters$",
        ),
    ],
)
def test_malformed_urls_are_skipped_with_their_reason(tmp_path, url, match):
    with pytest.raises(ImageDecodeError, match=match) as info:
        load_pixels(_item(url, tmp_path))
    one_line(info)


def test_a_build_skips_bad_urls_and_keeps_the_good_one(server, tmp_path, monkeypatch):
    monkeypatch.setenv("PIXBENCH_CACHE", str(tmp_path / "cache"))
    listing = tmp_path / "list.txt"
    listing.write_text(
        f"{server}/good.png\nexample.com/x.png\nhttp://exa mple.com/x.png\n{server}/missing.png\n"
        f"{server}/truncated.png\n"
    )
    recipe = parse_recipe({**BASE, "source": f"urls:{listing}"})
    result = build_dataset(recipe, tmp_path / "out", workers=1)
    assert result.info["splits"]["train"]["samples"] == 1
    reasons = {s["source_id"]: s["reason"] for s in result.info["skipped"]}
    assert len(reasons) == 4 and "only http:// and https://" in reasons["example.com/x.png"]
    assert "contains spaces" in reasons["http://exa mple.com/x.png"] and "HTTP 404" in reasons[f"{server}/missing.png"]
    assert all("\n" not in r and "/cache/" not in r for r in reasons.values())
    # each reason names the image once: the id stands before it wherever it is shown, so it does not repeat it
    assert reasons[f"{server}/missing.png"] == "HTTP 404 Not Found"
    assert not any(r.startswith(sid) for sid, r in reasons.items())


@pytest.mark.parametrize("workers", [1, 2])
def test_two_urls_with_one_id_are_one_image_and_one_counted_duplicate(server, tmp_path, monkeypatch, workers):
    monkeypatch.setenv("PIXBENCH_CACHE", str(tmp_path / "cache"))
    listing = tmp_path / "list.tsv"
    # rows 1 and 3 share id "a"; the empty id of row 4 falls back to its URL, so it is no duplicate of anything
    listing.write_text(
        f"id\turl\na\t{server}/good.png\nb\t{server}/other.png\na\t{server}/other.png\n\t{server}/good.png\n"
    )
    recipe = parse_recipe({**BASE, "source": f"urls:{listing}"})
    result = build_dataset(recipe, tmp_path / "out", workers=workers)
    assert (result.processed, result.reused, result.duplicates) == (3, 0, 1)  # a fresh build reuses nothing
    assert result.info["skipped"][0] == {
        "source_id": "a",
        "reason": f"duplicate id: {server}/other.png has the same id as {server}/good.png, which is built",
    }
    # the duplicate's pixels did not replace the first image's: "a" is good.png, as the listing's first row says
    # (row 4 is good.png again, so it is skipped too, as the same pixels as "a")
    assert result.info["skipped"][1] == {"source_id": f"{server}/good.png", "reason": "duplicate: same pixels as a"}
    assert result.info["source"]["images"] == 4 and result.info["splits"]["train"]["source_images"] == 2


def test_a_url_listed_twice_is_built_once_and_the_cli_says_so(server, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pixbench.cli import app

    monkeypatch.setenv("PIXBENCH_CACHE", str(tmp_path / "cache"))
    listing = tmp_path / "list.txt"
    listing.write_text(f"{server}/good.png\n{server}/other.png\n{server}/good.png\n")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(parse_recipe(BASE).canonical_yaml())
    args = ["build-dataset", str(recipe), "-o", str(tmp_path / "out"), "--source", f"urls:{listing}"]
    result = CliRunner().invoke(app, [*args, "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert "(2 images processed, 1 skipped as duplicate ids)" in result.output
    assert "reused from an interrupted run" not in result.output
    line = f"skipped {server}/good.png: duplicate id: listed again; only its first entry is built"
    assert line in result.output


@pytest.mark.parametrize(
    "raw,match",
    [
        (b"http://a/\xff.png\n", r"the list is not UTF-8 text \(byte at offset 9\)"),
        (b"http://a/x.png\x00\n", r"the list contains a NUL byte at offset 14"),
    ],
)
def test_url_lists_that_are_not_text(tmp_path, raw, match):
    listing = tmp_path / "list.txt"
    listing.write_bytes(raw)
    with pytest.raises(SourceError, match=match):
        open_source(f"urls:{listing}")


def test_url_list_with_a_field_over_the_csv_limit(tmp_path):
    listing = tmp_path / "list.tsv"
    listing.write_text("url\tid\n" + '"' + "x" * 200_000 + '"\t1\n')
    with pytest.raises(SourceError, match=r"not a readable URL list: field larger than field limit"):
        list(open_source(f"urls:{listing}").items())


# --------------------------------------------------------------------------- documented limits (class 9)


def _png_header(w: int, h: int) -> bytes:
    """A PNG whose header claims ``w`` x ``h`` (the pixel data is a few bytes: never decoded that far)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\0" * 16))
        + chunk(b"IEND", b"")
    )


def test_documented_pixel_limit_is_the_one_the_code_enforces():
    doc = (REPO_ROOT / "docs" / "recipes.md").read_text(encoding="utf-8")
    found = re.search(r"Images over ([\d,]+) pixels", doc)
    assert found, "docs/recipes.md must state the decompression-bomb limit as 'Images over N pixels'"
    documented = int(found.group(1).replace(",", ""))
    effective = min(MAX_PIXELS, Image.MAX_IMAGE_PIXELS or MAX_PIXELS)  # Pillow's warning is an error in decode_image
    assert documented == effective
    side = int(documented**0.5)
    with pytest.raises(ImageDecodeError) as info:  # at the limit: not refused as a bomb (just truncated here)
        decode_image(_png_header(side, side))
    assert "bomb" not in str(info.value)
    with pytest.raises(ImageDecodeError, match="bomb"):
        decode_image(_png_header(documented // side + 1, side))


def test_cli_evaluate_with_a_bad_prop_is_one_error_line(tmp_path):
    from typer.testing import CliRunner

    from pixbench.cli import app

    recipe = parse_recipe(
        {
            **BASE,
            "task": "jpeg",
            "crop": {"size": 16, "per_image": 1, "align": 8},
            "degradations": [{"op": "jpeg", "qualities": [20]}],
        }
    )
    ds = build_dataset(recipe, tmp_path / "ds", limit=1, split="test", workers=1).root
    model = onnx_model(tmp_path / "m.onnx", inputs=IMG, props={"pixbench.layout": "NCHW\n[red]x[/red]"})
    res = CliRunner().invoke(app, ["evaluate", str(model), "-d", str(ds), "-o", str(tmp_path / "r.json"), "--no-speed"])
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert "metadata prop pixbench.layout='NCHW\\n[red]x[/red]' is not one of nchw, nhwc" in res.output
    assert len(res.output.strip().splitlines()) == 1 and not (tmp_path / "r.json").exists()
