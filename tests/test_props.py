"""The one writer of the ``pixbench.*`` metadata props: checked values, each producer's key order, the strings."""

from __future__ import annotations

import json

import pytest
from onnx import helper

from pixbench import __version__
from pixbench.errors import ModelError
from pixbench.props import (
    BASELINE_ORDER,
    EXPORT_ORDER,
    GRID_DETECTOR_ORDER,
    GRID_UPSCALER_ORDER,
    ModelProps,
    canonical_json,
)
from pixbench.runtime.resolve import PROP_CHOICES


def test_defaults_are_float_rgb_nchw_and_unset_keys_are_left_out():
    props = ModelProps(task="jpeg", model="identity")
    assert props.metadata(BASELINE_ORDER) == {
        "pixbench.task": "jpeg",
        "pixbench.model": "identity",
        "pixbench.layout": "nchw",
        "pixbench.range": "01",
        "pixbench.channels": "rgb",
        "pixbench.version": __version__,
    }


def test_values_are_written_as_documented_strings():
    props = ModelProps(
        task="depixelate",
        model="espcn",
        input="lowres",
        scale=4,
        model_args={"scale": 4, "channels": 16},
        dataset_fingerprint="sha256:00ff",
        recipe="depixelate-nearest@1",
        training={"steps": 10, "lr": 0.001, "device": "cpu: é"},
    )
    out = props.metadata(EXPORT_ORDER)
    assert out["pixbench.scale"] == "4"
    # model_args: json.dumps with sorted keys and the default separators (as the published files have them)
    assert out["pixbench.model_args"] == '{"channels": 16, "scale": 4}'
    # training: canonical JSON, sorted keys, no spaces, ASCII (docs/onnx-metadata.md)
    assert out["pixbench.training"] == '{"device":"cpu: \\u00e9","lr":0.001,"steps":10}'
    assert json.loads(out["pixbench.training"]) == props.training
    assert canonical_json({"b": [1, 2.5], "a": None}) == '{"a":null,"b":[1,2.5]}'


def test_each_producer_writes_its_own_key_order():
    props = ModelProps(task="detect", model="m", range="255", output="probability", model_args={})
    assert list(props.metadata(EXPORT_ORDER)) == [
        "pixbench.task",
        "pixbench.layout",
        "pixbench.range",
        "pixbench.channels",
        "pixbench.model",
        "pixbench.model_args",
        "pixbench.version",
        "pixbench.output",
    ]
    detector = ModelProps(task="detect", model="grid-detector", range="255", output="probability")
    assert [k.removeprefix("pixbench.") for k in detector.metadata(GRID_DETECTOR_ORDER)] == list(GRID_DETECTOR_ORDER)
    upscaler = ModelProps(task="depixelate", model="g", range="255", input="full", model_args={"scale": 4})
    assert [k.removeprefix("pixbench.") for k in upscaler.metadata(GRID_UPSCALER_ORDER)] == list(GRID_UPSCALER_ORDER)


def test_a_set_key_missing_from_the_order_is_an_error_not_a_silent_drop():
    props = ModelProps(task="detect", model="m", output="probability")
    with pytest.raises(ModelError, match=r"model props: output set but not in the key order"):
        props.metadata(GRID_UPSCALER_ORDER)


def test_write_sets_the_same_entries_as_onnx_set_model_props():
    props = ModelProps(task="inpaint", model="pushpull", mask_input="channel")
    graph = helper.make_graph([], "g", [], [])
    ours, theirs = helper.make_model(graph), helper.make_model(graph)
    helper.set_model_props(ours, {"stale": "entry"})  # replaced, not kept
    assert props.write(ours, BASELINE_ORDER) == props.metadata(BASELINE_ORDER)
    helper.set_model_props(theirs, props.metadata(BASELINE_ORDER))
    assert ours.SerializeToString() == theirs.SerializeToString()
    assert [p.key for p in ours.metadata_props][-2:] == ["pixbench.mask_input", "pixbench.version"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"task": "deblur"}, r"pixbench.task='deblur' is not one of detect, depixelate, jpeg, blockcnn, inpaint"),
        ({"layout": "NCHW"}, r"pixbench.layout='NCHW' is not one of nchw, nhwc \(docs/onnx-metadata.md\)"),
        ({"range": "0-1"}, r"pixbench.range='0-1' is not one of 01, 11, 255"),
        ({"channels": "bgr"}, r"pixbench.channels='bgr' is not one of rgb, y"),
        ({"input": "half"}, r"pixbench.input='half' is not one of full, lowres"),
        ({"mask_input": "alpha"}, r"pixbench.mask_input='alpha' is not one of channel, separate, none"),
        ({"output": "score"}, r"pixbench.output='score' is not one of probability, logit, softmax2, auto"),
        ({"scale": 0}, r"pixbench.scale=0 is not a whole number from 1 to 64"),
        ({"scale": 65}, r"pixbench.scale=65 is not a whole number from 1 to 64"),
        ({"scale": "4"}, r"pixbench.scale='4' is not a whole number"),
        ({"scale": True}, r"pixbench.scale=True is not a whole number"),
        ({"model": ""}, r"pixbench.model='' is not a non-empty string"),
        ({"dataset_fingerprint": "abc"}, r"pixbench.dataset_fingerprint='abc' is not a 'sha256:...' fingerprint"),
        ({"recipe": "jpeg"}, r"pixbench.recipe='jpeg' is not 'name@version'"),
        ({"model_args": "{}"}, r"pixbench.model_args='{}' is not a JSON object"),
        ({"training": [1]}, r"pixbench.training=\[1\] is not a JSON object"),
    ],
)
def test_values_evaluate_would_refuse_are_refused_when_the_file_is_made(options, message):
    with pytest.raises(ModelError, match=message):
        ModelProps(**{"task": "depixelate", "model": "m", **options})


def test_allowed_values_are_the_ones_evaluate_reads():
    # one home for the allowed values: the reader's table (pixbench.runtime.resolve.PROP_CHOICES)
    for key, allowed in PROP_CHOICES.items():
        for value in allowed:
            assert (
                ModelProps(task="detect", model="m", **{key: value}).metadata(EXPORT_ORDER)[f"pixbench.{key}"] == value
            )
