"""The localize task: mosaic cells, regions and masks, the recipe's rules, the metrics and evaluation end to end."""

import copy
import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from pixbench.builder import build_dataset
from pixbench.datasets import open_dataset
from pixbench.degradations import MosaicOp, mosaic_cells, paint_region, recompress
from pixbench.errors import ModelError, RecipeError
from pixbench.evaluate import EvaluateOptions, evaluate
from pixbench.leaderboard import build_leaderboards
from pixbench.metrics.localization import localization_scores, pixel_average_precision, summarize
from pixbench.props import ModelProps
from pixbench.recipes import parse_recipe, resolve_recipe
from pixbench.tasks import TASKS


def test_srgb_mean_cells_at_a_phase():
    # a 1x6 row, block 4 at phase 1: cells [0, 1), [1, 5), [5, 6) (the border cuts the first and last)
    row = np.array([[10, 20, 30, 40, 50, 60]], np.uint8)
    image = np.repeat(row[..., None], 3, axis=2)
    out = mosaic_cells(image, block=4, phase=(1, 0), cell="srgb-mean")[0, :, 0]
    # means by hand: 10; (20+30+40+50)/4 = 35; 60
    assert out.tolist() == [10, 35, 35, 35, 35, 60]


def test_linear_mean_and_centre_cells():
    image = np.zeros((2, 2, 3), np.uint8)
    image[0, 1] = image[1, 0] = 255
    linear = mosaic_cells(image, block=2, phase=(0, 0), cell="linear-mean")
    # linear light 0.5 encoded by IEC 61966-2-1: 1.055 * 0.5 ** (1 / 2.4) - 0.055 = 0.73536 -> 187.5 -> 188
    assert (linear == 188).all()
    assert (mosaic_cells(image, block=2, phase=(0, 0), cell="srgb-mean") == 128).all()  # 127.5 rounds to even
    centre = mosaic_cells(image, block=2, phase=(0, 0), cell="centre")  # pixel a + (2 - 1) // 2 = a
    assert (centre == 0).all()
    with pytest.raises(ValueError, match="cell: expected one of srgb-mean, linear-mean, centre, got 'median'"):
        mosaic_cells(image, block=2, phase=(0, 0), cell="median")


@pytest.mark.parametrize("feather", [0, 8])
def test_a_region_mask_is_its_shape_with_either_edge(feather):
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (80, 96, 3), dtype=np.uint8)
    before = image.copy()
    region = {"box": [20, 10, 40, 30], "shape": "ellipse", "feather": feather, "block": 8, "phase": [3, 5]}
    mask = paint_region(image, {**region, "cell": "srgb-mean"})
    v = (np.arange(30) + 0.5 - 15) / 15
    u = (np.arange(40) + 0.5 - 20) / 20
    expected = np.zeros((80, 96), bool)
    expected[10:40, 20:60] = v[:, None] ** 2 + u[None, :] ** 2 <= 1
    assert np.array_equal(mask, expected)
    changed = (image != before).any(axis=2)
    assert not changed[~expected].any() if feather == 0 else changed[~expected].any()  # a ramp reaches outside
    assert not changed[:, :12].any()  # nothing beyond half the ramp


def test_downscale_keeps_mask_and_image_aligned():
    image = np.full((100, 60, 3), 90, np.uint8)
    mask = np.zeros((100, 60), bool)
    mask[20:60, 10:30] = True
    out, small = recompress(image, mask, {"post": "downscale-jpeg", "quality": 80, "scale": 0.5, "kernel": "bicubic"})
    assert out.shape == (50, 30, 3) and small.shape == (50, 30)
    assert small[10:30, 5:15].all() and small.sum() == 20 * 10


def test_about_a_quarter_of_the_images_have_no_region():
    op = resolve_recipe("localize")[0].ops()[1]
    assert isinstance(op, MosaicOp)
    counts = [len(op.sample(np.random.default_rng(s), height=512, width=768)["regions"]) for s in range(400)]
    # empty: 0.25, so 100 of 400 expected; the binomial standard deviation is about 8.7
    assert 70 <= counts.count(0) <= 130
    assert max(counts) == 4 and min(c for c in counts if c) == 1


def test_samples_record_regions_and_flat_columns():
    recipe, _ = resolve_recipe("localize")
    task = TASKS["localize"]
    image = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    seen = set()
    for seed in range(12):
        sample = task.make_sample(image, recipe, np.random.default_rng(seed), 0)
        p = sample.params
        assert sample.mask.shape == sample.input.shape[:2] and set(np.unique(sample.mask)) <= {0, 255}
        assert p["regions"] == len(p["mosaics"]) and (p["regions"] == 0) == (p["negative_kind"] != "")
        assert (p["regions"] == 0) == (sample.mask == 0).all() or p["post"] == "downscale-jpeg"
        for region in p["mosaics"]:
            assert 4 <= region["block"] <= 32 and 0 <= min(region["phase"]) and max(region["phase"]) < region["block"]
        seen.add(p["post"])
    assert seen == {"none", "jpeg", "downscale-jpeg"}


def test_recipe_rules_are_one_line():
    data = copy.deepcopy(resolve_recipe("localize")[0].canonical())
    data["degradations"][1]["blocks"] = [32, 4]
    with pytest.raises(RecipeError, match=r"blocks: expected \[low, high\] with low <= high, got \[32, 4\]"):
        parse_recipe(data)
    data["degradations"][1]["blocks"] = [20, 32]
    with pytest.raises(RecipeError, match="min_side 32 must hold two of the smallest blocks"):
        parse_recipe(data)


def test_image_scores_and_the_empty_convention():
    empty = np.zeros((4, 4), bool)
    nothing = localization_scores(empty, np.zeros((4, 4)))
    assert (nothing.iou, nothing.f1, nothing.fp_area) == (1.0, 1.0, 0.0)
    truth = np.zeros((4, 4), bool)
    truth[:2, :2] = True  # 4 true pixels
    prob = np.zeros((4, 4))
    prob[:2, :3] = 0.9  # 6 predicted, 4 of them true
    s = localization_scores(truth, prob)
    assert s.iou == pytest.approx(4 / 6) and s.f1 == pytest.approx(2 * 4 / (2 * 4 + 2))
    assert [iou for _, iou in s.components] == [pytest.approx(4 / 6)]


def test_a_component_is_compared_with_the_whole_predicted_blobs_it_touches():
    truth = np.zeros((10, 30), bool)
    truth[2:6, 2:6] = True  # 16 px
    prob = np.zeros((10, 30))
    prob[2:6, 2:10] = 1.0  # one blob of 32 px over it: IoU 16/32
    prob[0:2, 20:30] = 1.0  # a blob elsewhere does not count against it
    s = localization_scores(truth, prob)
    assert [iou for _, iou in s.components] == [0.5]
    assert summarize([s])["region_recall"] == 1.0  # IoU >= 0.5 is found


def _average_precision_by_sorting(labels: np.ndarray, scores: np.ndarray) -> float:
    """AP as the step sum over distinct thresholds, by sorting (written independently of the histogram code)."""
    order = np.argsort(-scores, kind="stable")
    labels, scores = labels[order], scores[order]
    ap, tp, total = 0.0, 0, labels.sum()
    for i in range(len(scores)):
        tp += labels[i]
        if i + 1 == len(scores) or scores[i + 1] != scores[i]:  # the end of a group of tied scores
            gained = labels[(scores == scores[i])].sum()
            ap += gained / total * tp / (i + 1)
    return ap


def test_pixel_ap_matches_a_sorting_implementation():
    rng = np.random.default_rng(5)
    truth = rng.random((40, 50)) < 0.3
    prob = np.clip(np.where(truth, 0.6, 0.4) + rng.normal(0, 0.2, truth.shape), 0, 1)
    hist = localization_scores(truth, prob).histogram
    binned = np.minimum(np.floor(prob * 1000), 1000)  # the histogram's bins, 1/1000 wide
    assert pixel_average_precision(hist) == pytest.approx(_average_precision_by_sorting(truth.ravel(), binned.ravel()))


def _map_model(path, *, value: float, output: str, channels: int = 1, stride: int = 1):
    """A localizer whose map is ``value`` everywhere, at 1/stride of the input's size."""
    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, "H", "W"])
    y = helper.make_tensor_value_info("map", TensorProto.FLOAT, [1, channels, "h", "w"])
    inits = [numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("zero", 0.0), ("v", value))]
    nodes = [
        helper.make_node("AveragePool", ["image"], ["p"], kernel_shape=[stride, stride], strides=[stride, stride]),
        helper.make_node("ReduceMean", ["p"], ["m"], axes=[1], keepdims=1),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["z", "v"], ["one"]),
        helper.make_node("Concat", ["one"] * channels, ["map"], axis=1),
    ]
    model = helper.make_model(
        helper.make_graph(nodes, "t", [x], [y], inits), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    ModelProps(task="localize", model=f"constant-{value:g}", output=output).write(
        model, ("task", "model", "layout", "range", "channels", "output", "version")
    )
    onnx.save(model, path)
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("loc") / "ds"
    build_dataset(resolve_recipe("localize")[0], out, limit=1, split="test", workers=1)
    return out


def test_evaluate_an_empty_map_end_to_end(tiny, tmp_path):
    model = _map_model(tmp_path / "zero.onnx", value=-30.0, output="logit")  # sigmoid(-30) ~ 1e-13: nothing
    result = evaluate(model, tiny, tmp_path / "r.json", EvaluateOptions(speed=False))
    m = result.metrics.model
    masks = [s.mask for s in open_dataset(tiny).split("test")]
    empty = [not mk.any() for mk in masks]
    assert m["iou"] == pytest.approx(np.mean(empty)) and m["f1"] == m["iou"]  # 1.0 on empty images, else 0
    assert m["region_recall"] == (0.0 if m["regions"] else None) and m["negatives"] == sum(empty)
    # every pixel in one bin: AP is the share of true pixels among all of them
    share = sum(mk.sum() for mk in masks) / sum(mk.size for mk in masks)
    assert m["ap"] == pytest.approx(share)
    assert m["fp_area"] == (0.0 if any(empty) else None)
    assert set(result.breakdown) >= {"post", "size", "shape", "edge", "block", "cell"}
    assert result.model.assumed["output"] == "logit"


def test_probabilities_out_of_range_and_bad_maps_are_one_line(tiny, tmp_path):
    model = _map_model(tmp_path / "big.onnx", value=3.0, output="probability")
    result = evaluate(model, tiny, tmp_path / "r.json", EvaluateOptions(speed=False))
    assert result.failures.count == 4
    assert next(iter(result.failures.reasons)) == (
        "map values 3..3 are not probabilities; declare pixbench.output=logit"
    )
    two = _map_model(tmp_path / "two.onnx", value=0.5, output="probability", channels=2)
    with pytest.raises(ModelError, match=r"two.onnx: a localize model outputs one map \(1, 1, H', W'\)"):
        evaluate(two, tiny, tmp_path / "r2.json", EvaluateOptions(speed=False))


def test_a_per_cell_map_is_upsampled_and_a_misfit_refused():
    from pixbench.evaluate.localize import full_map

    cells = np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3)
    up = full_map(cells, "nchw", 4, 6)
    assert up.shape == (4, 6) and up[3, 5] == 5 and up[0, 1] == 0
    with pytest.raises(ModelError, match="map 2x3 does not divide the image 5x6"):
        full_map(cells, "nchw", 5, 6)


def test_the_table_and_its_region_breakdowns(tiny, tmp_path):
    model = _map_model(tmp_path / "half.onnx", value=0.5, output="probability")
    evaluate(model, tiny, tmp_path / "res" / "half.json", EvaluateOptions(speed=False))
    build_leaderboards([tmp_path / "res"], tmp_path / "lb")
    page = (tmp_path / "lb" / "localize-v1-embedded.md").read_text()
    assert "| # | model | IoU | F1 | pixel AP | region recall | FP area |" in page
    assert "accuracy >=" not in page  # the detector's targets are not a localizer's
    pages = {p.name.removeprefix("localize-v1-embedded-by-") for p in (tmp_path / "lb").glob("*-by-*.md")}
    # the one-image build has two or more levels of these (its four samples hold no image without a region
    # of a second negative kind)
    assert pages == {f"{c}.md" for c in ("size", "shape", "edge", "block", "cell", "post")}
    size = (tmp_path / "lb" / "localize-v1-embedded-by-size.md").read_text()
    assert "ranks the models by region recall (higher is better) over the regions of that size alone" in size
    assert "| # | model | region recall | result |" in size


def test_block_size_error_is_the_median_report_against_the_scaled_block():
    """Two regions found, one missed: each found one's error is |median of the block map - block x scale|."""
    from pixbench.evaluate.localize import component_regions, region_block_errors

    truth = np.zeros((64, 96), bool)
    truth[4:20, 4:20] = truth[30:60, 40:90] = truth[40:44, 4:8] = True
    prob = truth.astype(np.float64)
    prob[40:44, 4:8] = 0.0  # the third region is not found
    image = localization_scores(truth, prob)
    # boxes before the downscale of 0.5: the recorded blocks 8, 24 and 4 become 4, 12 and 2 pixels
    params = {
        "scale": 0.5,
        "mosaics": [
            {"box": [8, 8, 32, 32], "shape": "rect", "feather": 0, "block": 8, "cell": "centre"},
            {"box": [80, 60, 100, 60], "shape": "ellipse", "feather": 6, "block": 24, "cell": "srgb-mean"},
            {"box": [8, 80, 8, 8], "shape": "rect", "feather": 0, "block": 4, "cell": "centre"},
        ],
    }
    block = np.full(truth.shape, 5.0)
    block[30:60, 40:90] = 9.0
    block[30:33, 40:90] = 100.0  # a few wild values: the median ignores them
    task = TASKS.get("localize")
    recorded = task.sample_regions(params)
    where = component_regions([p for p, _ in image.components], recorded)
    assert where == [0, 1, 2] and task.region_blocks(params) == [4.0, 12.0, 2.0]
    got = region_block_errors(image, block, where, recorded, task.region_blocks(params))
    assert [err for _, err in got] == [1.0, 3.0]  # |5 - 4| and |9 - 12|; the missed region has none
    assert [values["shape"] for values, _ in got] == ["rect", "ellipse"]


def _with_block_output(path, block: float):
    """The grid localizer with a second output ``block``: ``block`` pixels everywhere."""
    from pixbench.forensics.grid_localizer import build_localizer_onnx

    model = build_localizer_onnx()
    graph = model.graph
    graph.initializer.extend([numpy_helper.from_array(np.array(0.0, np.float32), "zero_b")])
    graph.initializer.extend([numpy_helper.from_array(np.array(block, np.float32), "side_b")])
    graph.node.extend(
        [
            helper.make_node("Mul", ["probability", "zero_b"], ["z_b"]),
            helper.make_node("Add", ["z_b", "side_b"], ["block"]),
        ]
    )
    graph.output.extend([helper.make_tensor_value_info("block", TensorProto.FLOAT, ["N", 1, "H", "W"])])
    onnx.save(model, path)
    return path


def test_a_block_output_is_scored_end_to_end(tiny, tmp_path):
    from pixbench.forensics.grid_localizer import save_localizer_onnx

    plain = evaluate(save_localizer_onnx(tmp_path / "g.onnx"), tiny, tmp_path / "g.json", EvaluateOptions(speed=False))
    assert "block_error" not in plain.metrics.model
    model = _with_block_output(tmp_path / "gb.onnx", 6.0)
    result = evaluate(model, tiny, tmp_path / "gb.json", EvaluateOptions(speed=False))
    m = result.metrics.model
    assert {k: m[k] for k in ("iou", "found")} == {k: plain.metrics.model[k] for k in ("iou", "found")}
    # every region found gets |6 - block x scale|
    truths = []
    for sample in open_dataset(tiny).split("test"):
        params = json.loads(sample.meta["params"])
        scale = float(params.get("scale") or 1.0)
        truths += [abs(6.0 - r["block"] * scale) for r in params.get("mosaics") or []]
    assert m["found"] == 2  # the grid localizer finds 2 of the one-image build's 5 regions (deterministic build)
    assert min(truths) <= m["block_error"] <= max(truths)
    assert sum("block_error" in entry for entry in result.breakdown["block"].values()) >= 1
