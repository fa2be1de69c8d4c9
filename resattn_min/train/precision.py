"""Where a run computes and in what precision: the device (``resolve_device``), and mixed precision,
bfloat16 where the GPU computes in it natively, float16 with loss scaling elsewhere.

``amp="auto"`` (the default) picks bfloat16 on GPUs of compute capability 8.0 and later (A100, H100,
RTX 30xx and later), float16 on older ones (the T4 of Colab's free tier, the V100), and full precision on
a CPU. bfloat16 keeps float32's range, so it needs nothing more. float16 does not: its smallest normal
number is about 6e-5, and the gradients of a deep network's early layers fall below it and vanish. Loss
scaling multiplies the loss by a large factor before the backward pass, so that the gradients are large
enough to survive, divides them by it again before the update, and skips the update of any step whose
gradients overflowed (then halves the factor; it doubles it after 2,000 steps without overflow).
``torch.amp.GradScaler`` does all three.
"""

from __future__ import annotations

import torch

__all__ = ["AMP_CHOICES", "resolve_device", "resolve_amp", "amp_name", "loss_scaler"]

AMP_CHOICES = ("auto", "bf16", "fp16", "off")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "off": None}
#: Compute capability from which NVIDIA GPUs have bfloat16 tensor cores (Ampere).
NATIVE_BF16 = (8, 0)


def resolve_device(device: str = "auto") -> torch.device:
    """The device ``device`` names: ``"auto"`` is the GPU when there is one, else the CPU; ``"cuda"``
    without a visible GPU and names torch does not know are refused with what to give instead."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        resolved = torch.device(device)
    except RuntimeError:  # torch lists every device type it knows, over several lines
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' was asked for but no GPU is visible; use --device cpu")
    return resolved


def resolve_amp(amp: str, device: torch.device,
                capability: tuple[int, int] | None = None) -> torch.dtype | None:
    """The autocast dtype that ``amp`` means on ``device``, or None for full precision (every CPU).

    ``capability`` is the GPU's compute capability (read from the device when not given).
    """
    if amp not in AMP_CHOICES:
        raise ValueError(f"amp must be one of {AMP_CHOICES}, got {amp!r}")
    if device.type != "cuda":
        return None
    if amp == "auto":
        capability = capability or torch.cuda.get_device_capability(device)
        return torch.bfloat16 if tuple(capability) >= NATIVE_BF16 else torch.float16
    return _DTYPES[amp]


def amp_name(dtype: torch.dtype | None) -> str:
    """``"bf16"``, ``"fp16"`` or ``"off"``: what a run's results record."""
    return next(name for name, d in _DTYPES.items() if d == dtype)


def loss_scaler(amp_dtype: torch.dtype | None, device: torch.device) -> torch.amp.GradScaler | None:
    """A loss scaler for float16 autocast; None for bfloat16 and full precision, which need none."""
    return torch.amp.GradScaler(device.type) if amp_dtype == torch.float16 else None
