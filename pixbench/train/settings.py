"""Training options: the typed settings, ``--arg KEY=VALUE`` model options, and the device.

Everything here is checked before any training starts, so a bad option is one clear
:class:`~pixbench.errors.ModelError` naming the option, not a failure mid-run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pixbench.errors import ModelError

if TYPE_CHECKING:
    import torch

    from pixbench.models import ModelSpec


#: Epochs trained when neither ``steps`` nor ``minutes`` (nor ``epochs``) is given.
DEFAULT_EPOCHS = 10
#: The budget fields: exactly one applies (``epochs`` when none is given).
BUDGET_FIELDS = ("epochs", "steps", "minutes")
#: Fields that decide no step's weights: how fast a run goes (``device``, ``cache``) and the whole-run
#: cap (``max_minutes``, which may stop a run early, as its training record then says). They are left
#: out of the config hash, and ``--resume`` takes them from the command line.
RUNTIME_FIELDS = ("device", "cache", "max_minutes")


class TrainSettings(BaseModel):
    """Training options (``pixbench train --help`` explains each).

    The budget is one of ``epochs``, ``steps`` (optimiser steps) or ``minutes`` (training
    wall clock); with none of them, :data:`DEFAULT_EPOCHS` epochs. ``max_minutes`` caps the whole
    run beside any budget (:class:`~pixbench.train.schedule.WallCap`).
    """

    model_config = ConfigDict(extra="forbid")

    epochs: int | None = Field(None, ge=1)
    steps: int | None = Field(None, ge=1)
    minutes: float | None = Field(None, gt=0)
    max_minutes: float | None = Field(None, gt=0)
    batch_size: int = Field(8, ge=1)
    lr: float | None = Field(None, gt=0)
    schedule: Literal["constant", "cosine", "onecycle"] = "cosine"
    warmup: float = Field(0.02, ge=0, lt=1)
    seed: int = Field(0, ge=0)
    device: str = "auto"
    crop: int | None = Field(None, ge=8)
    factor: int | None = Field(None, ge=1)
    quality: int | None = Field(None, ge=1, le=100)
    augment: bool = True
    context_loss: bool = False
    cache: bool = True
    val_every: int = Field(1, ge=1)
    amp: bool = True
    loss: Literal["l1", "mse", "perceptual"] = "l1"
    vgg_weights: str | None = None
    l1_weight: float = Field(100.0, ge=0)
    gan_weight: float = Field(1.0, ge=0)

    @model_validator(mode="after")
    def _one_budget(self) -> TrainSettings:
        given = [f"--{name}" for name in BUDGET_FIELDS if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError(f"give one budget (--epochs, --steps or --minutes), not {' and '.join(given)}")
        return self

    @property
    def budget(self) -> tuple[Literal["epochs", "steps", "minutes"], float]:
        """``(kind, amount)``: the one budget given, else ``("epochs", DEFAULT_EPOCHS)``."""
        if self.steps is not None:
            return "steps", self.steps
        if self.minutes is not None:
            return "minutes", self.minutes
        return "epochs", self.epochs if self.epochs is not None else DEFAULT_EPOCHS

    def with_budget_of(self, other: TrainSettings) -> TrainSettings:
        """These settings with ``other``'s budget (when it gives one) and runtime fields."""
        update: dict[str, Any] = {name: getattr(other, name) for name in RUNTIME_FIELDS}
        if any(getattr(other, name) is not None for name in BUDGET_FIELDS):
            update.update({name: getattr(other, name) for name in BUDGET_FIELDS})
        return TrainSettings(**{**self.model_dump(), **update})

    @classmethod
    def create(cls, **values: Any) -> TrainSettings:
        """Validate ``values`` into settings, with a one-line error naming the bad option."""
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            if not err["loc"]:  # a check across fields (the budget)
                raise ModelError(str(err["msg"]).removeprefix("Value error, ")) from None
            name = "--" + str(err["loc"][0]).replace("_", "-")
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
            raise ModelError(
                f"--arg {key}={raw!r}: expected a {type(default).__name__} like the default {default!r}"
            ) from None
        out[key] = value
    return out
