"""An ONNX file in an onnxruntime session, behind the :class:`pixbench.runtime.model.Model` interface."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from pixbench.errors import ModelError
from pixbench.runtime.model import Model, TensorInfo

_ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(uint8)": np.uint8,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(int8)": np.int8,
}


def _tensor_info(arg: Any) -> TensorInfo:
    dtype = _ORT_DTYPES.get(arg.type)
    if dtype is None:
        raise ModelError(f"{arg.name!r} has type {arg.type}; pixbench feeds float, float16, double or uint8 tensors")
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in arg.shape)
    return TensorInfo(arg.name, shape, np.dtype(dtype))


class OnnxModel(Model):
    """An ONNX file in an onnxruntime session (CUDA when available, else CPU).

    Args:
        path: The ``.onnx`` file.
        threads: Intra-op threads; ``None`` uses every logical core.
        providers: Execution providers in order of preference; ``None`` picks CUDA
            when onnxruntime offers it, then CPU.
    """

    def __init__(
        self, path: str | os.PathLike, *, threads: int | None = None, providers: list[str] | None = None
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"{self.path}: no such model file")
        if providers is None:
            available = ort.get_available_providers()
            providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in available]
        opts = ort.SessionOptions()
        self.threads = threads if threads else (os.cpu_count() or 1)
        opts.intra_op_num_threads = self.threads
        opts.log_severity_level = 3
        # Idle workers spin for 100 us, not onnxruntime's default of tens of milliseconds: the
        # harness converts tensors on the same cores between runs, and a spinning worker would
        # hold one of them. Gaps between operators and between tile batches are shorter than
        # that, so onnxruntime's own speed does not change (benchmarks/evaluate_overhead.py).
        opts.add_session_config_entry("session.intra_op.spin_duration_us", "100")
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=opts, providers=providers)
        except Exception as exc:  # onnxruntime raises several unrelated types for unloadable files
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{self.path}: not a loadable ONNX model ({reason})") from None
        self.provider = self.session.get_providers()[0]
        self.inputs = [_tensor_info(a) for a in self.session.get_inputs()]
        self.outputs = [_tensor_info(a) for a in self.session.get_outputs()]
        meta = self.session.get_modelmeta().custom_metadata_map
        self.props = {k: v for k, v in sorted(meta.items()) if k.startswith("pixbench.")}
        self._output_names = [o.name for o in self.outputs]

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        try:
            return self.session.run(self._output_names, feeds)
        except Exception as exc:  # onnxruntime's own error types; the message says what did not fit
            shapes = ", ".join(f"{k}{list(v.shape)}" for k, v in feeds.items())
            reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{self.path.name}: onnxruntime failed on {shapes}: {reason}") from None

    @property
    def params(self) -> int | None:
        """Sum of the sizes of all initializers (weights and constants)."""
        import onnx

        proto = onnx.load(str(self.path), load_external_data=False)
        return int(sum(int(np.prod(t.dims)) for t in proto.graph.initializer))
