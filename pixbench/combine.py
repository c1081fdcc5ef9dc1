"""Two detectors as one ONNX graph that applies a rule to their probabilities (``pixbench combine``).

The combined graph takes the image the way the *first* model does (its layout, value range and
channels, as ``pixbench evaluate`` resolves them from its metadata and input): the image goes to the
first model unchanged and to the second converted to the second's layout and range (rounded to whole
values when the second takes [0, 255], as it would be fed 8-bit pixels). Each member's output is
read the way ``pixbench evaluate`` reads a detector's: its first value per image, as the
probability its ``pixbench.output`` declares (a logit goes through a sigmoid). The rule then takes:

- ``min``: the lower of the two. The combination flags an image only where both members do: the
  second confirms the first. It flags no image that either member clears, so its false-positive
  rate is at most the lower of the members' and its recall at most the lower of theirs.
- ``max``: the higher of the two, flagging where either member does.
- ``mean``: their mean.

Nothing is fitted. Members must take images of any height and width (``evaluate`` cuts images into
crops for a fixed-size model, which one graph cannot do for two models) with a free batch axis, and
declare ``pixbench.task`` (a task whose models give one probability per image) and ``pixbench.output``
(``probability`` or ``logit``). The file names its members (model name and SHA-256 of the file) and
the rule in ``pixbench.model_args``. It is written only after both members and the combined graph have
been run through ``pixbench evaluate``'s own runner on two test images, and the combined answer
matched the rule over the members' answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, compose, helper, numpy_helper, version_converter

from pixbench.errors import ModelError
from pixbench.evaluate.detect import to_probability
from pixbench.images import atomic_output
from pixbench.props import COMBINED_ORDER, ModelProps
from pixbench.runtime import Runner, load_model, resolve_spec
from pixbench.runtime.onnx_model import OnnxModel
from pixbench.runtime.runner import TO_MODEL
from pixbench.runtime.spec import InputSpec

#: The rules: their ONNX operator (each takes any number of inputs) and what they do to two probabilities.
RULES = {"min": ("Min", np.minimum), "max": ("Max", np.maximum), "mean": ("Mean", lambda a, b: (a + b) / 2)}
#: Member outputs the graph can read as a probability.
OUTPUTS = ("probability", "logit")
_PERMUTE = {("nchw", "nhwc"): [0, 2, 3, 1], ("nhwc", "nchw"): [0, 3, 1, 2]}
#: The lowest default-domain opset of a combined graph (Round, and Slice with its bounds as inputs);
#: a member below it is converted up.
MIN_OPSET = 13
#: Largest allowed difference between the combined graph and the rule over its members' answers.
ATOL = 1e-5


@dataclass(frozen=True)
class Member:
    """One model of a combination: its file, graph, and how ``pixbench evaluate`` feeds and reads it."""

    path: Path
    model: OnnxModel
    proto: onnx.ModelProto
    spec: InputSpec
    name: str
    sha256: str

    @property
    def layout(self) -> str:
        return self.spec.layout

    @property
    def range(self) -> str:
        return self.spec.range


def read_member(path: str | Path) -> Member:
    """Open one member and check that it can be combined.

    Raises:
        ModelError: The file is missing or not ONNX; it declares no task, a task whose models do not
            give one probability per image, or no ``probability``/``logit`` output; or it takes a
            fixed image size, a fixed batch or a non-float input.
    """
    path = Path(path)
    model = load_model(path)
    if not isinstance(model, OnnxModel):
        raise ModelError(f"{path.name}: a JSON model file; combine takes ONNX files")
    task = model.props.get("pixbench.task")
    if task is None:
        raise ModelError(
            f"{path.name}: no pixbench.task metadata, so what it outputs is unknown (docs/onnx-metadata.md)"
        )
    spec = resolve_spec(model, task)
    if not spec.task_info.classifies:
        raise ModelError(f"{path.name}: a {task} model; combine takes models that give one probability per image")
    if spec.output not in OUTPUTS:
        raise ModelError(
            f"{path.name}: pixbench.output is {spec.output!r}; combine needs 'probability' or 'logit' declared "
            "(docs/onnx-metadata.md)"
        )
    if spec.tile is not None or spec.batch is not None:
        fixed = f"a fixed {spec.tile[0]}x{spec.tile[1]} input" if spec.tile else f"a fixed batch of {spec.batch}"
        raise ModelError(f"{path.name}: takes {fixed}; combine takes models with a free batch, height and width")
    if len(model.inputs) != 1 or spec.dtype != np.float32:
        raise ModelError(f"{path.name}: combine takes models with one float32 image input")
    return Member(
        path=path,
        model=model,
        proto=onnx.load(str(path)),
        spec=spec,
        name=model.props.get("pixbench.model", path.stem),
        sha256=model.sha256,
    )


def _opset(proto: onnx.ModelProto) -> int:
    return max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=1)


def _at_opset(member: Member, version: int) -> onnx.ModelProto:
    """The member's graph at default-domain opset ``version`` (converted up when it is older)."""
    if _opset(member.proto) == version:
        return member.proto
    try:
        return version_converter.convert_version(member.proto, version)
    except (version_converter.ConvertError, onnx.checker.ValidationError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{member.path.name}: cannot be converted to opset {version} ({reason})") from None


class _Nodes:
    """The nodes and constants the combined graph adds around its members."""

    def __init__(self) -> None:
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
            # the same 8-bit pixel in either range (the evaluator's own table): x1 = (x0 - a0) * m1 / m0 + a1
            m0, a0 = TO_MODEL[first.range]
            m1, a1 = TO_MODEL[member.range]
            scale, offset = m1 / m0, a1 - a0 * m1 / m0
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
        """A member's answer per image, ``(N, 1)``: the first value of its output, through a sigmoid if a logit."""
        x = self.add("Flatten", [raw], f"combine/{tag}/flat", axis=1)
        bounds = [
            self.const(f"combine/{tag}/{k}", np.array([v], np.int64))
            for k, v in (("start", 0), ("end", 1), ("axis", 1))
        ]
        x = self.add("Slice", [x, *bounds], f"combine/{tag}/first")
        return self.add("Sigmoid", [x], f"combine/{tag}/sigmoid") if output == "logit" else x


def _write_props(model: onnx.ModelProto, first: Member, second: Member, rule: str, name: str) -> None:
    """The combined file's ``pixbench.*`` props: the first member's image contract, the rule and both members."""
    members = [{"model": m.name, "sha256": m.sha256} for m in (first, second)]
    ModelProps(
        task=first.spec.task,
        model=name,
        layout=first.layout,
        range=first.range,
        channels=first.spec.channels,
        output="probability",
        model_args={"rule": rule, "members": members},
    ).write(model, COMBINED_ORDER)


def _check_pair(first: Member, second: Member, rule: str) -> dict[str, int]:
    """Refuse members that cannot share one graph; return the other domains' opsets both import."""
    if rule not in RULES:
        raise ModelError(f"rule {rule!r} is not one of {', '.join(RULES)}")
    if first.spec.task != second.spec.task:
        raise ModelError(
            f"{first.path.name} is a {first.spec.task} model and {second.path.name} a {second.spec.task} model"
        )
    if first.spec.channels != second.spec.channels:
        raise ModelError(
            f"{first.path.name} takes {first.spec.channels} and {second.path.name} {second.spec.channels}: "
            "combine takes members with the same colour channels"
        )
    imports: dict[str, int] = {}
    for member in (first, second):
        for o in member.proto.opset_import:
            if o.domain in ("", "ai.onnx"):
                continue
            if imports.setdefault(o.domain, o.version) != o.version:
                raise ModelError(
                    f"the members import opset domain {o.domain!r} at two versions ({imports[o.domain]} and {o.version})"
                )
    return imports


def combine_graph(first: Member, second: Member, rule: str, name: str) -> onnx.ModelProto:
    """The combined ONNX model of two members (see the module docstring); its metadata written.

    Raises:
        ModelError: An unknown rule, members of different tasks or colour channels, a member that
            cannot be brought to the combined opset, or a graph the ONNX checker refuses.
    """
    imports = _check_pair(first, second, rule)
    opset = max(_opset(first.proto), _opset(second.proto), MIN_OPSET)
    parts = [compose.add_prefix(_at_opset(m, opset), f"{tag}/") for m, tag in ((first, "first"), (second, "second"))]
    nodes = _Nodes()
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, None)
    image.type.CopyFrom(first.proto.graph.input[0].type)
    for member, part, tag in ((first, parts[0], "first"), (second, parts[1], "second")):
        nodes.feed("image", first, member, part.graph.input[0].name, tag)
    fed = len(nodes.nodes)
    probs = [
        nodes.probability(p.graph.output[0].name, m.spec.output, t)
        for p, m, t in zip(parts, (first, second), ("first", "second"))
    ]
    nodes.add(RULES[rule][0], probs, "probability")
    batch = first.proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param or "N"
    graph = helper.make_graph(
        [*nodes.nodes[:fed], *parts[0].graph.node, *parts[1].graph.node, *nodes.nodes[fed:]],
        f"combine-{rule}",
        [image],
        [helper.make_tensor_value_info("probability", TensorProto.FLOAT, [batch, 1])],
        initializer=[*parts[0].graph.initializer, *parts[1].graph.initializer, *nodes.inits],
        value_info=[*parts[0].graph.value_info, *parts[1].graph.value_info],
        sparse_initializer=[*parts[0].graph.sparse_initializer, *parts[1].graph.sparse_initializer],
    )
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
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ModelError(f"the combined graph is not valid ONNX: {str(exc).strip().splitlines()[0][:200]}") from None
    return model


@dataclass(frozen=True)
class CombineReport:
    """What :func:`combine_files` wrote and how closely the file agreed with its members."""

    path: Path
    size_mb: float
    max_abs_diff: float


def parity_images() -> list[np.ndarray]:
    """The parity check's two 8-bit RGB images (72x104, deterministic): noise, and the same noise pixelated by 8."""
    noise = np.random.default_rng(0).integers(0, 256, (72, 104, 3), dtype=np.uint8)
    return [noise, np.repeat(np.repeat(noise[::8, ::8], 8, axis=0), 8, axis=1)]


def detector_answer(member: Member, image: np.ndarray) -> float:
    """What ``pixbench evaluate`` reads from ``member`` for ``image``: one probability."""
    raw = Runner(member.model, member.spec).detect_raw(image).astype(np.float64)
    return float(to_probability(raw, member.spec.output).mean())


def parity(combined: Path, first: Member, second: Member, rule: str) -> float:
    """Largest |combined - rule(first, second)| over :func:`parity_images`, each read as evaluate reads it."""
    both = read_member(combined)
    worst = 0.0
    for image in parity_images():
        want = RULES[rule][1](detector_answer(first, image), detector_answer(second, image))
        worst = max(worst, abs(detector_answer(both, image) - want))
    return worst


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
            by more than :data:`ATOL` (``output`` is then left as it was).
    """
    a, b = read_member(first), read_member(second)
    data = combine_graph(a, b, rule, name or f"{a.name}+{b.name}").SerializeToString()
    with atomic_output(output) as tmp:
        tmp.write_bytes(data)
        diff = parity(tmp, a, b, rule)
        if not diff <= ATOL:
            raise ModelError(
                f"combined graph differs from the {rule} of its members by {diff:.3g} (more than {ATOL:g}); nothing written"
            )
    return CombineReport(Path(output), len(data) / 1e6, diff)
