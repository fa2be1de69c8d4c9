"""What a config builds: its model (ours, or a torchvision baseline) and its data streams."""

from __future__ import annotations

import re
from pathlib import Path

from torch import nn

from ..data.bad_images import ScreenedBatches
from ..data.cifar import make_cifar_streams
from ..data.decoded import load_image_tensors
from ..data.imagenet import LoaderStream, imagenet_loaders
from ..data.imagenet_gpu import ImageNetGPUStream
from ..data.run_data import RunData
from .distributed import DistInfo
from .run_config import ConfigError, TrainConfig

__all__ = ["model_source", "build_model", "make_data"]


def model_source(name: str) -> str:
    """``"registry"`` for our models, ``"torchvision"`` for its ImageNet baselines (ResNet-152 ...)."""
    from ..models.registry import create_model, list_models

    if name in list_models():
        return "registry"
    import torchvision

    if name in torchvision.models.list_models(torchvision.models):
        return "torchvision"
    try:
        create_model(name)  # raises the registry's message, with close names
    except ValueError as err:
        raise ConfigError(str(err)) from None
    raise AssertionError("unreachable")


def build_model(config: TrainConfig, num_classes: int) -> nn.Module:
    """The registered model (with the config's unit/mask/activation/combination), or a torchvision one."""
    from ..models.registry import create_model

    options = {k: getattr(config, k) for k in ("combination", "activation", "mask", "unit", "trunk")
               if getattr(config, k) is not None}
    if config.num_classes is not None and config.num_classes != num_classes:
        raise ConfigError(f"num_classes is {config.num_classes} but the data has {num_classes} classes")
    if config.trunk is not None and not re.fullmatch(r"attention\d+_cifar", config.model):
        raise ConfigError(f"trunk={config.trunk!r} applies to the CIFAR Attention networks, "
                          f"not {config.model}")
    if model_source(config.model) == "torchvision":
        import torchvision

        if options:
            raise ConfigError(f"torchvision's {config.model} takes none of the options {sorted(options)}")
        return torchvision.models.get_model(config.model, num_classes=num_classes)
    try:
        return create_model(config.model, num_classes=num_classes, **options)
    except ValueError as err:
        raise ConfigError(str(err)) from None


def make_data(config: TrainConfig, batch_size: int, info: DistInfo = DistInfo()) -> RunData:
    """Train and test streams for the config's dataset (ImageNet folders: DataLoaders).

    On the CIFAR pipeline every rank builds the same stream of *global* batches and keeps its slice; the
    ImageNet loaders shard the files instead, each rank reading ``batch_size / world_size`` per step.
    """
    if config.pipeline == "cifar":
        return make_cifar_streams(
            config.dataset, batch_size, device=info.device, seed=config.seed, noise_ratio=config.noise_ratio,
            quick=config.plan().quick, root=config.data_root and Path(config.data_root),
            download=config.download, synthetic_fallback=config.synthetic_fallback,
            on_bad_image=config.on_bad_image)
    if batch_size % info.world_size:
        raise ConfigError(f"batch size {batch_size} does not split over {info.world_size} processes")
    if config.loader == "gpu":
        return _imagenet_on_gpu(config, batch_size, info)
    train_loader, val_loader = imagenet_loaders(
        config.dataset, batch_size // info.world_size, workers=config.workers, image_size=config.image_size,
        eval_size=config.eval_size, eval_resize=config.eval_resize, distributed=info.enabled,
        seed=config.seed, on_bad_image=config.on_bad_image)
    classes = list(train_loader.dataset.classes)
    return RunData(LoaderStream(train_loader, info.device), ScreenedBatches(val_loader), len(classes),
                     classes, Path(config.dataset).name, None, train_loader.dataset.skipped)


def _imagenet_on_gpu(config: TrainConfig, batch_size: int, info: DistInfo):
    """ImageNet-style data decoded once and augmented on the device (``loader="gpu"``): global batches."""
    root = config.data_root and Path(config.data_root)
    train_set, test_set = (load_image_tensors(config.dataset, s, root, on_bad_image=config.on_bad_image)
                           for s in ("train", "test"))
    if train_set.classes != test_set.classes:
        raise ConfigError(f"train and val classes differ: {train_set.classes} vs {test_set.classes}")
    train = ImageNetGPUStream(train_set.images, train_set.labels, batch_size, image_size=config.image_size,
                              device=info.device, seed=config.seed)
    test = ImageNetGPUStream(test_set.images, test_set.labels, batch_size, train=False,
                             image_size=config.eval_size or config.image_size,
                             resize_size=config.eval_resize, device=info.device)
    return RunData(train, test, len(train_set.classes), train_set.classes, Path(config.dataset).name, None,
                     {*train_set.skipped, *test_set.skipped})
