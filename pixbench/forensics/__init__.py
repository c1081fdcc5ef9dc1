"""Pixelation forensics: the analytic detector, grid estimation and the grid depixelator.

This stage owns what pixbench itself ships for the ``detect`` and ``depixelate``
tasks beside the trainable reference models:

* **Detector.** 34 analytic features of how the pixels were made
  (:func:`extract_features`), a small calibrated MLP on them
  (:class:`DetectorParams`, fitted parameters at :data:`PARAMS_PATH`), and the
  two as one ONNX graph (:func:`build_detector_onnx`, :func:`save_detector_onnx`).
* **Grid.** Block factor, phase and kernel family of a pixelated image
  (:func:`estimate_grid`) and the low-res image behind it (:func:`recover_lowres`).
* **Depixelator.** One ONNX graph per factor (:class:`UpscalerConfig` records its
  options) run on any image by :func:`depixelate` with the published graphs of
  :func:`load_depixelators`.

Everything exported here runs on the core install (numpy, Pillow, onnx,
onnxruntime). :mod:`pixbench.forensics.upscaler_onnx` writes a trained
``grid-upscaler`` network (the registry's, :mod:`pixbench.models.grid_upscaler`) as
its graph. Both graphs declare their ``pixbench.*`` props through
:class:`pixbench.props.ModelProps`. Fitting and training are not part of the package:
the programs ``tools/fit_grid_detector.py`` and ``tools/train_depixelators.py`` and the
modules beside them (``detector_samples``, ``detector_fitting``, ``upscaler_training``,
``tuning_photos``) make the shipped parameters and the published graphs.
"""

from __future__ import annotations

from pixbench.forensics.depixelate import MODEL_DIR, Depixelator, choose_scale, depixelate, load_depixelators
from pixbench.forensics.detector import PARAMS_PATH, DetectorParams
from pixbench.forensics.features import N_FEATURES, extract_features
from pixbench.forensics.grid import AxisGrid, GridEstimate, block_starts, estimate_grid, recover_lowres
from pixbench.forensics.onnx_detector import build_detector_onnx, save_detector_onnx
from pixbench.forensics.upscaler_config import PUBLISHED, UpscalerConfig

__all__ = [
    "MODEL_DIR",
    "N_FEATURES",
    "PARAMS_PATH",
    "PUBLISHED",
    "AxisGrid",
    "Depixelator",
    "DetectorParams",
    "GridEstimate",
    "UpscalerConfig",
    "block_starts",
    "build_detector_onnx",
    "choose_scale",
    "depixelate",
    "estimate_grid",
    "extract_features",
    "load_depixelators",
    "recover_lowres",
    "save_detector_onnx",
]
