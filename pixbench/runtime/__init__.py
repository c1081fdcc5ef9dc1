"""Running a model on images: sessions, I/O introspection, adapters, tiling, timing.

A model reaches the evaluator as a :class:`Model`: an onnxruntime session
(:class:`OnnxModel`) or a JSON model file (:class:`JsonModel`; ``PythonModel`` is its old name) with the
same small interface, opened by :func:`load_model`. :func:`resolve_spec` decides
how to feed it (layout, value range, channels, fixed size, low-res input, mask
input, output kind) from its ``pixbench.*`` metadata props, its input shapes and
one probe run, and records where each decision came from. :class:`Runner` then
turns ``HxWx3 uint8`` images into model tensors and back (with the compiled
one-pass kernels of :mod:`pixbench.runtime.kernels`), with overlapping blended
tiles for fixed-size restorers, centre-of-block sliding for BlockCNN, and grids
of crops for fixed-size classifiers. :func:`time_call` and :func:`frame_call`
time it.

Modules: ``model`` (the interface), ``onnx_model``, ``python_model``, ``loading``,
``spec`` (:class:`InputSpec`), ``resolve``, ``runner``, ``tiling``, ``colour``,
``kernels`` and ``timing``.
"""

from pixbench.runtime.colour import bicubic_resize, rgb_to_ycbcr, ycbcr_to_rgb
from pixbench.runtime.loading import load_model
from pixbench.runtime.model import Model, TensorInfo
from pixbench.runtime.onnx_model import OnnxModel
from pixbench.runtime.python_model import PYTHON_MODEL_FORMAT, PYTHON_MODELS, JsonModel, PythonModel
from pixbench.runtime.resolve import resolve_spec
from pixbench.runtime.runner import Runner
from pixbench.runtime.spec import BLOCK, CHANNELS, CONTEXT, LAYOUTS, RANGES, InputSpec
from pixbench.runtime.timing import CpuWindow, frame_call, other_cpu, time_call

__all__ = [
    "BLOCK",
    "CHANNELS",
    "CpuWindow",
    "CONTEXT",
    "LAYOUTS",
    "PYTHON_MODELS",
    "PYTHON_MODEL_FORMAT",
    "RANGES",
    "InputSpec",
    "Model",
    "OnnxModel",
    "JsonModel",
    "PythonModel",
    "Runner",
    "TensorInfo",
    "bicubic_resize",
    "frame_call",
    "load_model",
    "other_cpu",
    "resolve_spec",
    "rgb_to_ycbcr",
    "time_call",
    "ycbcr_to_rgb",
]
