"""``pixbench train MODEL --config FILE.yaml``: model options and training settings from a file.

The file holds up to two mappings::

    args:          # model options, as --arg KEY=VALUE would give them
      unshuffle: 4
    settings:      # TrainSettings fields, as the flags would give them
      steps: 2000
      batch_size: 16
      schedule: onecycle

Options given on the command line win over the file, and the file wins over the defaults.
The run's config hash (:func:`pixbench.train.provenance.config_sha256`) depends only on the
merged values, so a file and the equivalent flags give the same hash.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pixbench.errors import ModelError
from pixbench.models import ModelSpec
from pixbench.train.settings import TrainSettings, parse_model_options

SECTIONS = ("args", "settings")


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ModelError(f"{where}: expected a mapping of KEY: VALUE, got {type(value).__name__}")
    return value


def load_train_config(path: str | Path, spec: ModelSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    """Read ``(model options, settings values)`` from a YAML config file, each key checked.

    Model options are typed like ``--arg`` (a YAML ``4`` and ``"4"`` both give an int where the
    default is one); settings values are checked later, with the command line's, by
    :meth:`TrainSettings.create`.

    Raises:
        ModelError: The file is missing or not YAML, or a key is unknown (named with the file).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"--config {path}: no such file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"--config {path}: not valid YAML ({first})") from None
    data = _mapping(data, f"--config {path}")
    for key in data:
        if key not in SECTIONS:
            raise ModelError(f"--config {path}: unknown key {key!r}; a config file has {' and '.join(SECTIONS)}")
    raw_args = _mapping(data.get("args"), f"--config {path}: args")
    settings = _mapping(data.get("settings"), f"--config {path}: settings")
    known_args = spec.full_args()
    for key in raw_args:
        if str(key).replace("-", "_") not in known_args:
            raise ModelError(
                f"--config {path}: unknown key args.{key}; {spec.name}'s options are {', '.join(known_args)}"
            )
    for key in settings:
        if key not in TrainSettings.model_fields:
            raise ModelError(
                f"--config {path}: unknown key settings.{key}; settings are {', '.join(TrainSettings.model_fields)}"
            )
    text = {
        key: "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in raw_args.items()
    }
    try:
        args = parse_model_options(spec, [f"{key}={value}" for key, value in text.items()])
    except ModelError as exc:
        raise ModelError(f"--config {path}: {str(exc).removeprefix('--arg ')}") from None
    return args, dict(settings)
