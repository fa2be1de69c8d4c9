"""The data pipelines: datasets found and decoded once, then served as batches the way the paper trains.

``decoded`` (find a dataset, decode it once, cache it), ``synthetic`` (a stand-in the package generates),
``augment`` (the CIFAR augmentation of Sec. 4.1 on whole batches), ``stream`` (a dataset in device memory
served as resumable batches), ``cifar`` (the CIFAR streams of a run), ``textbook`` (the same pipeline with
torchvision transforms), ``imagenet`` (ImageNet-style folders through DataLoader workers),
``imagenet_gpu`` (their augmentation on the GPU), ``noisy_labels`` (Table 5), ``bad_images`` (unreadable
files) and ``run_data`` (what a run trains and tests on). Nothing here depends on the network or the
training engine.
"""

from .augment import PAD, augment_batch, pixel_mean
from .cifar import make_cifar_streams, stratified_subset
from .decoded import CIFAR_JPEG, CifarSource, DatasetNotFoundError, ImageTensors, find_cifar10, load_image_tensors
from .run_data import RunData
from .stream import DeviceBatchStream, stable_seed
from .synthetic import synthetic_dataset
from .textbook import SubtractPixelMean, torchvision_loader

__all__ = [
    "CIFAR_JPEG", "PAD", "CifarSource", "DatasetNotFoundError", "DeviceBatchStream", "ImageTensors", "RunData",
    "SubtractPixelMean", "augment_batch", "find_cifar10", "load_image_tensors", "make_cifar_streams",
    "pixel_mean", "stable_seed", "stratified_subset", "synthetic_dataset", "torchvision_loader",
]
