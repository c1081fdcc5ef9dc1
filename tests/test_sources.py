"""Image sources: listing order, real `datasets` streaming, a loopback download cache, Kodak verification."""

import functools
import http.server
import io
import threading

import numpy as np
import pytest
from PIL import Image

from pixbench.errors import ImageDecodeError, SourceError
from pixbench.images import pixel_sha256
from pixbench.sources import load_pixels, open_source
from pixbench.sources.kodak import KODAK_PIXEL_SHA256


def _png(seed: int, size=(20, 30)) -> bytes:
    arr = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def test_embedded_lists_the_bundled_colour_photos():
    items = list(open_source("embedded").items())
    assert [i.source_id for i in items][:3] == ["astronaut.png", "chelsea.png", "coffee.png"]
    assert len(items) == 8
    assert load_pixels(items[1]).shape == (300, 451, 3)  # chelsea.png is 451x300


def test_folder_lists_every_file_sorted_and_skips_hidden(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.png").write_bytes(_png(0))
    (tmp_path / "a.png").write_bytes(_png(1))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(_png(2))
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "x.png").write_bytes(_png(3))
    items = list(open_source(f"folder:{tmp_path}").items())
    assert [i.source_id for i in items] == ["a.png", "b/z.png", "notes.txt"]
    with pytest.raises(ImageDecodeError, match="cannot decode"):
        load_pixels(items[2])


@pytest.mark.parametrize(
    "spec,match",
    [
        ("embeded", "unknown source 'embeded'; did you mean 'embedded'"),
        ("folder", "needs a path"),
        ("folder:/definitely/not/here", "no such directory"),
        ("urls:/no/list.txt", "no such file"),
        ("hf:a:b:c:d", r"expected hf:REPO_ID\[:split\[:column\]\]"),
    ],
)
def test_bad_specs(spec, match):
    with pytest.raises(SourceError, match=match):
        open_source(spec)


def test_hf_streams_a_local_parquet_dataset(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    import datasets

    images = [_png(i) for i in range(3)]
    table = datasets.Dataset.from_dict(
        {"photo": [{"bytes": b, "path": None} for b in images], "caption": ["a", "b", "c"]},
        features=datasets.Features({"photo": datasets.Image(), "caption": datasets.Value("string")}),
    )
    (tmp_path / "data").mkdir()
    table.to_parquet(str(tmp_path / "data" / "train-00000-of-00001.parquet"))
    source = open_source(f"hf:{tmp_path}")
    items = list(source.items())
    assert [i.source_id for i in items] == ["train/00000000", "train/00000001", "train/00000002"]
    # the bytes come through undecoded and decode to the same pixels as the originals
    for item, raw in zip(items, images):
        assert item.data == raw
    assert pixel_sha256(load_pixels(items[0])) == pixel_sha256(np.asarray(Image.open(io.BytesIO(images[0]))))
    with pytest.raises(SourceError, match="no column 'image'"):
        list(open_source(f"hf:{tmp_path}:train:image").items())
    with pytest.raises(SourceError, match="cannot open the dataset"):
        list(open_source(f"hf:{tmp_path}/missing").items())


@pytest.fixture
def http_root(tmp_path):
    """A real HTTP server on 127.0.0.1 serving ``tmp_path / 'www'``."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_urls_download_once_into_a_hashed_cache(tmp_path, http_root, monkeypatch):
    import hashlib

    root, base = http_root
    monkeypatch.setenv("PIXBENCH_CACHE", str(tmp_path / "cache"))
    (root / "a.png").write_bytes(_png(1))
    (root / "big.png").write_bytes(_png(2, size=(200, 200)))
    good_sha = hashlib.sha256(_png(1)).hexdigest()
    listing = tmp_path / "list.tsv"
    listing.write_text(
        f"photo_id\tphoto_image_url\tsha256\nA\t{base}/a.png\t{good_sha}\n"
        f"B\t{base}/a.png\t{'0' * 64}\nC\t{base}/missing.png\t\n"
    )
    items = list(open_source(f"urls:{listing}").items())
    assert [i.source_id for i in items] == ["A", "B", "C"]
    assert load_pixels(items[0]).shape == (20, 30, 3)
    with pytest.raises(ImageDecodeError, match="SHA-256 .* expected 0000000000000000"):
        load_pixels(items[1])
    with pytest.raises(ImageDecodeError, match="HTTP 404"):
        load_pixels(items[2])
    # cached: it loads again after the server file is gone
    (root / "a.png").unlink()
    assert load_pixels(items[0]).shape == (20, 30, 3)
    cached = list((tmp_path / "cache" / "urls").glob("*.json"))
    assert len(cached) == 1 and good_sha in cached[0].read_text()
    # size limit
    plain = tmp_path / "plain.txt"
    plain.write_text(f"# comment\n{base}/big.png\n")
    item = next(open_source(f"urls:{plain}").items())
    small_limit = type(item)(**{**item.__dict__, "max_bytes": 1000})
    with pytest.raises(ImageDecodeError, match="exceeds the download limit of 1000"):
        load_pixels(small_limit)
    assert "redistributed" not in open_source(f"urls:{plain}").license  # not an Unsplash list


def test_unsplash_terms_are_recorded(tmp_path):
    listing = tmp_path / "unsplash-lite.tsv"
    listing.write_text("photo_image_url\nhttp://127.0.0.1:9/x.jpg\n")
    assert "NOT be redistributed" in open_source(f"urls:{listing}").license
    assert "NOT be redistributed" in open_source("hf:someone/unsplash-lite").license


def test_urls_refuses_non_http(tmp_path):
    listing = tmp_path / "l.txt"
    listing.write_text(f"file://{tmp_path}/l.txt\n")
    with pytest.raises(ImageDecodeError, match="only http:// and https://"):
        load_pixels(next(open_source(f"urls:{listing}").items()))


def test_kodak_local_override_is_verified_by_pixel_hash(tmp_path, monkeypatch):
    good = tmp_path / "kodak"
    good.mkdir()
    for stem in KODAK_PIXEL_SHA256:
        (good / f"{stem}.png").write_bytes(_png(0, size=(8, 8)))
    monkeypatch.setenv("PIXBENCH_KODAK_DIR", str(good))
    items = list(open_source("kodak").items())
    assert len(items) == 24 and items[0].source_id == "kodim01.png"
    with pytest.raises(ImageDecodeError, match="do not match the expected SHA-256"):
        load_pixels(items[0])  # a stand-in file is refused
    monkeypatch.delenv("PIXBENCH_KODAK_DIR")
    remote = next(open_source("kodak").items())
    assert remote.url == "https://r0k.us/graphics/kodak/kodak/kodim01.png"


@pytest.mark.shared
def test_kodak_shared_copy_matches_the_pinned_hashes(shared_datasets):
    items = list(open_source(f"kodak:{shared_datasets / 'kodak'}").items())
    shapes = {load_pixels(i).shape for i in items[:3]}
    assert shapes <= {(512, 768, 3), (768, 512, 3)}
