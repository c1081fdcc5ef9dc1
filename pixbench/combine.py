"""Two detectors as one ONNX graph that applies a rule to their probabilities (``pixbench combine``).

The combined graph takes the image the way the *first* model does (its layout, value range and
channels, from its ``pixbench.*`` metadata): the image goes to the first model unchanged and to the
second converted to the second's layout and range (to whole values when the second takes [0, 255],
as it would be fed 8-bit pixels). Each member's output is read as the probability its
``pixbench.output`` declares (a logit goes through a sigmoid) and averaged to one number per image,
as ``pixbench evaluate`` reads a detector. The rule then takes:

- ``min``: the lower of the two. The combination flags an image only where both members do: the
  second confirms the first. It cannot flag more images than either member, so its false-positive
  rate is at most the lower of theirs and its recall at most the lower of theirs.
- ``max``: the higher of the two, flagging where either member does.
- ``mean``: their mean.

Nothing is fitted. The file names its members (model name and SHA-256 of the file) and the rule in
``pixbench.model_args``, and is written only after onnxruntime has run it beside its two members on
one test image and agreed with the rule applied to theirs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper

from pixbench.errors import ModelError
from pixbench.images import write_bytes_atomic
from pixbench.props import COMBINED_ORDER, ModelProps
from pixbench.runtime.loading import load_model
from pixbench.runtime.onnx_model import OnnxModel
from pixbench.tasks import get_task

#: The rules: their ONNX operator (each takes any number of inputs) and what they do to two probabilities.
RULES = {"min": ("Min", np.minimum), "max": ("Max", np.maximum), "mean": ("Mean", lambda a, b: (a + b) / 2)}
#: Member outputs the graph can read as a probability.
OUTPUTS = ("probability", "logit")
#: Each range as ``(scale, offset)`` from [0, 1] values: ``range = unit * scale + offset``.
_FROM_UNIT = {"01": (1.0, 0.0), "11": (2.0, -1.0), "255": (255.0, 0.0)}
_PERMUTE = {("nchw", "nhwc"): [0, 2, 3, 1], ("nhwc", "nchw"): [0, 3, 1, 2]}
#: Side of the square test image of the parity check, where a member's input size is not fixed.
CHECK_SIDE = 96
#: Largest allowed difference between the combined graph and the rule over its members' outputs.
ATOL = 1e-5


@dataclass(frozen=True)
class Member:
    """One model of a combination: its file, graph and what its metadata declares."""

    path: Path
    proto: onnx.ModelProto
    name: str
    sha256: str
    task: str
    layout: str
    range: str
    channels: str
    output: str


def read_member(path: str | Path) -> Member:
    """Open one member and check that it can be combined.

    Raises:
        ModelError: The file is missing or not ONNX, or its metadata does not say it outputs one
            probability or logit per image through one float input.
    """
    path = Path(path)
    model = load_model(path)
    if not isinstance(model, OnnxModel):
        raise ModelError(f"{path.name}: a JSON model file; combine takes ONNX files")
    props = model.props
    task = props.get("pixbench.task")
    if task is None:
        raise ModelError(
            f"{path.name}: no pixbench.task metadata, so what it outputs is unknown (docs/onnx-metadata.md)"
        )
    if not get_task(task, where=path.name).classifies:
        raise ModelError(f"{path.name}: a {task} model; combine takes models that give one probability per image")
    output = props.get("pixbench.output", "auto")
    if output not in OUTPUTS:
        raise ModelError(
            f"{path.name}: pixbench.output is {output!r}; combine needs 'probability' or 'logit' declared "
            "(docs/onnx-metadata.md)"
        )
    if len(model.inputs) != 1 or len(model.inputs[0].shape) != 4:
        raise ModelError(
            f"{path.name}: combine takes models with one 4-D image input, not {len(model.inputs)} input(s)"
        )
    proto = onnx.load(str(path))
    if proto.graph.input[0].type.tensor_type.elem_type != TensorProto.FLOAT:
        raise ModelError(f"{path.name}: its input is not float32; combine takes float32 image inputs")
    return Member(
        path=path,
        proto=proto,
        name=props.get("pixbench.model", path.stem),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        task=task,
        layout=props.get("pixbench.layout", "nchw"),
        range=props.get("pixbench.range", "01"),
        channels=props.get("pixbench.channels", "rgb"),
        output=output,
    )


def _opset(proto: onnx.ModelProto) -> int:
    return max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=1)


def _at_opset(member: Member, version: int) -> onnx.ModelProto:
    """The member's graph at default-domain opset ``version`` (converted up when it is older)."""
    if _opset(member.proto) == version:
        return member.proto
    try:
        return onnx.version_converter.convert_model(member.proto, version)
    except Exception as exc:  # the converter raises several types; the message says which operator
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"{member.path.name}: cannot be converted to opset {version} to match the other member ({reason})"
        ) from None


class _Nodes:
    """The nodes and constants the combined graph adds around its members."""

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []

    def const(self, name: str, value: np.ndarray) -> str:
        self.inits.append(numpy_helper.from_array(value, name))
        return name

    def add(self, op: str, inputs: list[str], output: str, **attrs) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, **attrs))
        return output

    def feed(self, image: str, first: Member, member: Member, target: str, tag: str) -> None:
        """Convert the image from the first member's contract to ``member``'s, into ``target``."""
        x = image
        if member.range != first.range:
            s0, o0 = _FROM_UNIT[first.range]
            s1, o1 = _FROM_UNIT[member.range]
            scale, offset = s1 / s0, o1 - o0 * s1 / s0
            x = self.add(
                "Mul", [x, self.const(f"combine/{tag}/scale", np.array(scale, np.float32))], f"combine/{tag}/scaled"
            )
            if offset:
                x = self.add(
                    "Add",
                    [x, self.const(f"combine/{tag}/offset", np.array(offset, np.float32))],
                    f"combine/{tag}/shifted",
                )
            if member.range == "255":
                x = self.add("Round", [x], f"combine/{tag}/whole")
        if member.layout != first.layout:
            x = self.add("Transpose", [x], f"combine/{tag}/layout", perm=_PERMUTE[(first.layout, member.layout)])
        self.add("Identity", [x], target)

    def probability(self, raw: str, output: str, tag: str) -> str:
        """One probability per image from a member's output: sigmoid of a logit, mean over the rest of the axes."""
        x = self.add("Sigmoid", [raw], f"combine/{tag}/sigmoid") if output == "logit" else raw
        x = self.add("Flatten", [x], f"combine/{tag}/flat", axis=1)
        if self.opset >= 18:
            axes = self.const(f"combine/{tag}/axes", np.array([1], np.int64))
            return self.add("ReduceMean", [x, axes], f"combine/{tag}/probability", keepdims=1)
        return self.add("ReduceMean", [x], f"combine/{tag}/probability", axes=[1], keepdims=1)


def _write_props(model: onnx.ModelProto, first: Member, second: Member, rule: str, name: str) -> None:
    """The combined file's ``pixbench.*`` props: the first member's image contract, the rule and both members."""
    members = [{"model": m.name, "sha256": m.sha256} for m in (first, second)]
    ModelProps(
        task=first.task,
        model=name,
        layout=first.layout,
        range=first.range,
        channels=first.channels,
        output="probability",
        model_args={"rule": rule, "members": members},
    ).write(model, COMBINED_ORDER)


def combine_graph(first: Member, second: Member, rule: str, name: str) -> onnx.ModelProto:
    """The combined ONNX model of two members (see the module docstring); its metadata written.

    Raises:
        ModelError: The members solve different tasks or take different colour channels, or an
            unknown rule.
    """
    if rule not in RULES:
        raise ModelError(f"rule {rule!r} is not one of {', '.join(RULES)}")
    if first.task != second.task:
        raise ModelError(f"{first.path.name} is a {first.task} model and {second.path.name} a {second.task} model")
    if first.channels != second.channels:
        raise ModelError(
            f"{first.path.name} takes {first.channels} and {second.path.name} {second.channels}: "
            "combine takes members with the same colour channels"
        )
    opset = max(_opset(first.proto), _opset(second.proto))
    parts = [compose.add_prefix(_at_opset(m, opset), f"{tag}/") for m, tag in ((first, "first"), (second, "second"))]
    nodes = _Nodes(opset)
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, None)
    image.type.CopyFrom(first.proto.graph.input[0].type)
    for member, part, tag in ((first, parts[0], "first"), (second, parts[1], "second")):
        nodes.feed("image", first, member, part.graph.input[0].name, tag)
    fed = len(nodes.nodes)
    probs = [
        nodes.probability(p.graph.output[0].name, m.output, t)
        for p, m, t in zip(parts, (first, second), ("first", "second"))
    ]
    nodes.add(RULES[rule][0], probs, "probability")
    batch = first.proto.graph.input[0].type.tensor_type.shape.dim[0]
    out = helper.make_tensor_value_info(
        "probability", TensorProto.FLOAT, [batch.dim_param or batch.dim_value or "N", 1]
    )
    graph = helper.make_graph(
        [*nodes.nodes[:fed], *parts[0].graph.node, *parts[1].graph.node, *nodes.nodes[fed:]],
        f"combine-{rule}",
        [image],
        [out],
        initializer=[*parts[0].graph.initializer, *parts[1].graph.initializer, *nodes.inits],
        value_info=[*parts[0].graph.value_info, *parts[1].graph.value_info],
    )
    imports = {o.domain: o.version for p in parts for o in p.opset_import if o.domain not in ("", "ai.onnx")}
    model = helper.make_model(
        graph,
        opset_imports=[
            helper.make_opsetid("", opset),
            *(helper.make_opsetid(d, v) for d, v in sorted(imports.items())),
        ],
        producer_name="pixbench combine",
    )
    model.ir_version = max(first.proto.ir_version, second.proto.ir_version)
    model.functions.extend([*parts[0].functions, *parts[1].functions])
    _write_props(model, first, second, rule, name)
    onnx.checker.check_model(model)
    return model


@dataclass(frozen=True)
class CombineReport:
    """What :func:`combine_files` wrote and how closely the file agreed with its members."""

    path: Path
    size_mb: float
    max_abs_diff: float


def _test_image(member: Member) -> np.ndarray:
    """A deterministic 8-bit-valued test image in the member's layout and range, batch 2."""
    dims = [d.dim_value for d in member.proto.graph.input[0].type.tensor_type.shape.dim]
    channels_axis = 1 if member.layout == "nchw" else 3
    channels = dims[channels_axis] or 3
    side = [d or CHECK_SIDE for i, d in enumerate(dims) if i not in (0, channels_axis)]
    shape = (2, channels, *side) if member.layout == "nchw" else (2, *side, channels)
    pixels = np.random.default_rng(0).integers(0, 256, shape).astype(np.float32) / 255
    scale, offset = _FROM_UNIT[member.range]
    return (pixels * scale + offset).astype(np.float32)


def _as_probability(raw: np.ndarray, output: str) -> np.ndarray:
    p = 1 / (1 + np.exp(-raw.astype(np.float64))) if output == "logit" else raw.astype(np.float64)
    return p.reshape(len(p), -1).mean(axis=1)


def parity(combined: onnx.ModelProto, first: Member, second: Member, rule: str) -> float:
    """Largest |combined - rule(first, second)| on one test image, each run in its own onnxruntime session."""
    import onnxruntime as ort

    def run(proto: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
        session = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, {session.get_inputs()[0].name: x})[0]

    x = _test_image(first)
    expected = []
    for member in (first, second):
        y = _FROM_UNIT[member.range][0] / _FROM_UNIT[first.range][0] * (x - _FROM_UNIT[first.range][1])
        y = y + _FROM_UNIT[member.range][1]
        y = np.round(y) if member.range == "255" and member.range != first.range else y
        if member.layout != first.layout:
            y = y.transpose(_PERMUTE[(first.layout, member.layout)])
        expected.append(_as_probability(run(member.proto, y.astype(np.float32)), member.output))
    want = RULES[rule][1](*expected)
    got = run(combined, x).reshape(-1)
    return float(np.max(np.abs(got - want)))


def combine_files(
    first: str | Path, second: str | Path, output: str | Path, *, rule: str, name: str | None = None
) -> CombineReport:
    """Combine two detector files into ``output`` (written atomically, after the parity check).

    Args:
        first: The model whose image contract the combination takes.
        second: The other model.
        output: The ``.onnx`` file to write.
        rule: ``min``, ``max`` or ``mean`` (module docstring).
        name: ``pixbench.model`` of the result; default ``<first>+<second>``.

    Raises:
        ModelError: A member that cannot be combined, or a graph that disagrees with its members
            by more than :data:`ATOL` (nothing is written then).
    """
    a, b = read_member(first), read_member(second)
    model = combine_graph(a, b, rule, name or f"{a.name}+{b.name}")
    diff = parity(model, a, b, rule)
    if not diff <= ATOL:
        raise ModelError(
            f"combined graph differs from {rule} of its members by {diff:.3g} (more than {ATOL:g}); nothing written"
        )
    data = model.SerializeToString()
    write_bytes_atomic(output, data)
    return CombineReport(Path(output), len(data) / 1e6, diff)
