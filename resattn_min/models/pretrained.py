"""Trained weights installed with the package: ``create_model("attention92_cifar", trunk="36m+17",
pretrained=True)``, offline.

Each entry of ``WEIGHTS`` names a file in ``resattn_min/weights/`` (the last checkpoint of a run on record,
its weights in half precision), the builder options the network was trained with, the file holding the
per-pixel mean of its training images, and the run on record in ``results/``. The network returned for
``pretrained=True`` takes images in [0, 1] (``uint8 images / 255``): the mean subtraction of training is
part of it (:class:`WithPixelMean`). Adding trained weights takes one file in ``weights/`` and one entry.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = ["WEIGHTS_DIR", "WEIGHTS", "Weights", "WithPixelMean", "weights_path", "shipped_entry",
           "load_network", "pretrained_model"]

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "weights"
_CIFAR10_JPEG_MEAN = "cifar10_jpeg_pixel_mean.pt"


@dataclass(frozen=True)
class Weights:
    """One trained network: its file, the options it was built with, its input mean, its run on record."""

    file: str
    model: str
    options: dict = field(default_factory=dict)
    pixel_mean: str = _CIFAR10_JPEG_MEAN
    dataset: str = "CIFAR-10 (JPEG copy)"
    record: str = ""  # results/<group>/<run>: the run's results.json, metrics and log

    def describe(self) -> str:
        """``attention92_cifar(trunk='36m+17', combination='nal')``: how to ask for these weights."""
        return f"{self.model}({', '.join(f'{k}={v!r}' for k, v in self.options.items())})"


#: The 0.1-schedule runs of the package's earlier CIFAR trunk (36m+17); weights of the corrected
#: network (36m+20) join when its full-length runs end.
WEIGHTS: dict[str, Weights] = {
    "cifar10_jpeg_attention92": Weights("cifar10_jpeg_attention92.fp16.pt", "attention92_cifar",
                                        {"trunk": "36m+17"}, record="cifar10_jpeg/attention92"),
    "cifar10_jpeg_attention92_nal": Weights("cifar10_jpeg_attention92_nal.fp16.pt", "attention92_cifar",
                                            {"trunk": "36m+17", "combination": "nal"},
                                            record="cifar10_jpeg/attention92_nal"),
    "cifar10_jpeg_attention56_arl": Weights("cifar10_jpeg_attention56_arl.fp16.pt", "attention56_cifar",
                                            {"trunk": "36m+17"}, record="cifar10_jpeg/attention56_arl"),
    "cifar10_jpeg_attention56_nal": Weights("cifar10_jpeg_attention56_nal.fp16.pt", "attention56_cifar",
                                            {"trunk": "36m+17", "combination": "nal"},
                                            record="cifar10_jpeg/attention56_nal"),
}


class WithPixelMean(nn.Module):
    """A network with the per-pixel mean it was trained to have subtracted: it takes images in [0, 1]."""

    def __init__(self, network: nn.Module, pixel_mean: Tensor) -> None:
        super().__init__()
        self.network = network
        self.register_buffer("pixel_mean", pixel_mean.detach().clone().float())

    def forward(self, x: Tensor) -> Tensor:
        size = tuple(self.pixel_mean.shape[-2:])
        if tuple(x.shape[-2:]) != size:
            raise ValueError(f"this network was trained on {size[0]}x{size[1]} images with their per-pixel "
                             f"mean subtracted; got {x.shape[-2]}x{x.shape[-1]}: resize them first")
        return self.network(x - self.pixel_mean)


def _entry(name: str) -> Weights:
    if name not in WEIGHTS:
        raise FileNotFoundError(f"no trained weights called {name!r}; installed: {', '.join(WEIGHTS)}")
    return WEIGHTS[name]


def weights_path(name: str) -> Path:
    """The file of the trained weights called ``name``; unknown names get the list of those that exist."""
    return WEIGHTS_DIR / _entry(name).file


def shipped_entry(path: str | Path) -> str | None:
    """The name of the installed weights that ``path`` is (a link to them included), or None."""
    resolved = Path(path).resolve()
    return next((name for name in WEIGHTS if weights_path(name).resolve() == resolved), None)


def _read(name: str) -> dict:
    path = weights_path(name)
    return {**torch.load(path, map_location="cpu", weights_only=True), "path": str(path)}


def load_network(name: str) -> nn.Module:
    """The trained network ``name`` in float32 and eval mode; it expects mean-subtracted images."""
    from .registry import create_model

    entry = _entry(name)
    network = create_model(entry.model, **entry.options)
    # copying into float32 parameters converts the half precision
    network.load_state_dict(_read(name)["model"])
    return network.eval()


def _builder_defaults() -> dict:
    """Every builder option's default (``trunk='36m+20'``, ``combination='arl'``, ...)."""
    from .cifar import attention_cifar
    from .network import ResidualAttentionNetwork

    params = [*inspect.signature(ResidualAttentionNetwork).parameters.values(),
              *inspect.signature(attention_cifar).parameters.values()]
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def pretrained_model(model: str, num_classes: int = 10, **options) -> WithPixelMean:
    """The installed weights of ``model`` built with ``options``, as a network that takes [0, 1] images.

    ``num_classes`` other than 10 keeps the trained features and puts a new classifier on them.
    """
    defaults = _builder_defaults()
    wanted = {**defaults, **options}
    names = [n for n, w in WEIGHTS.items() if w.model == model and {**defaults, **w.options} == wanted]
    if not names:
        given = Weights("", model, options).describe()
        raise ValueError(f"no trained weights for {given} are installed; there are weights for "
                         f"{', '.join(w.describe() for w in WEIGHTS.values())}: pass those options")
    name = names[0]
    network = load_network(name)
    if num_classes != 10:
        network.reset_classifier(num_classes)
    entry, state = WEIGHTS[name], _read(name)
    mean = torch.load(WEIGHTS_DIR / entry.pixel_mean, map_location="cpu", weights_only=True)
    wrapped = WithPixelMean(network, mean).eval()
    wrapped.pretrained_cfg = {
        "weights": name, "file": state["path"], "trained_on": entry.dataset,
        "iterations": state["iteration"], "schedule_scale": state["config"].get("schedule_scale"),
        "record": f"results/{entry.record}", "input": "RGB images in [0, 1], 32x32",
    }
    return wrapped
