"""Training options: the typed settings, ``--arg KEY=VALUE`` model options, and the device.

Everything here is checked before any training starts, so a bad option is one clear
:class:`~pixbench.errors.ModelError` naming the option, not a failure mid-run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from pixbench.errors import ModelError

if TYPE_CHECKING:
    import torch

    from pixbench.models import ModelSpec


class TrainSettings(BaseModel):
    """Training options (``pixbench train --help`` explains each)."""

    model_config = ConfigDict(extra="forbid")

    epochs: int = Field(10, ge=1)
    batch_size: int = Field(8, ge=1)
    lr: float | None = Field(None, gt=0)
    seed: int = Field(0, ge=0)
    device: str = "auto"
    crop: int | None = Field(None, ge=8)
    loss: Literal["l1", "mse", "perceptual"] = "l1"
    vgg_weights: str | None = None
    l1_weight: float = Field(100.0, ge=0)
    gan_weight: float = Field(1.0, ge=0)

    @classmethod
    def create(cls, **values: Any) -> TrainSettings:
        """Validate ``values`` into settings, with a one-line error naming the bad option."""
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = "--" + str(err["loc"][0]).replace("_", "-") if err["loc"] else "settings"
            raise ModelError(f"{name}={err.get('input')!r}: {err['msg']}") from None


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when present, else CPU; otherwise the named device, checked.

    Raises:
        ModelError: The device name is invalid or CUDA is asked for but absent.
    """
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ModelError(f"--device {name!r}: not a device; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"--device {name}: no CUDA device is available here; use --device cpu (or auto)")
    return device


def parse_model_options(spec: ModelSpec, pairs: list[str]) -> dict[str, Any]:
    """Parse ``KEY=VALUE`` strings into constructor options, typed like each option's default.

    Raises:
        ModelError: Not ``KEY=VALUE``, an unknown option, or a value of the wrong type.
    """
    defaults = spec.full_args()
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise ModelError(f"--arg {pair!r}: expected KEY=VALUE, e.g. --arg width=16")
        if key not in defaults:
            raise ModelError(f"--arg {key}: {spec.name} has no such option; its options are {', '.join(defaults)}")
        default, raw = defaults[key], raw.strip()
        try:
            if isinstance(default, bool):
                if raw.lower() not in ("true", "false", "1", "0"):
                    raise ValueError
                value: Any = raw.lower() in ("true", "1")
            elif isinstance(default, int):
                value = int(raw)
            elif isinstance(default, float):
                value = float(raw)
            else:
                value = None if raw.lower() in ("", "none") else raw
        except ValueError:
            raise ModelError(f"--arg {key}={raw!r}: expected a {type(default).__name__} like the default {default!r}") from None
        out[key] = value
    return out
