"""The ImageNet pipeline of Sec. 4.2, on a tiny ImageFolder made here."""

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from resattn_min.data.imagenet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LoaderStream,
    PCALighting,
    ResumableSampler,
    ShardSampler,
    imagenet_loaders,
    imagenet_transforms,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """3 classes, JPEG and PNG files of different sizes, one grayscale image."""
    root = tmp_path_factory.mktemp("tiny-imagenet")
    rng = np.random.default_rng(0)
    sizes = [(40, 60), (64, 48), (50, 50), (37, 80)]
    for split, n in (("train", 4), ("val", 2)):
        for c, cls in enumerate(("n02", "n01", "n03")):
            (root / split / cls).mkdir(parents=True)
            for i in range(n):
                h, w = sizes[(i + c) % len(sizes)]
                pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / cls / f"{i}.{'jpg' if i % 2 else 'png'}")
    gray = rng.integers(0, 256, (45, 30), dtype=np.uint8)
    Image.fromarray(gray, mode="L").save(root / "train" / "n01" / "g.jpg")
    return root


@pytest.mark.parametrize("size", [224, 320])
def test_eval_is_one_centre_crop_at_any_size(folder, size):
    _, val = imagenet_loaders(folder, 4, workers=0, image_size=64, eval_size=size)
    x, y = next(iter(val))
    assert x.shape == (4, 3, size, size) and y.dtype == torch.int64
    assert val.dataset.classes == ["n01", "n02", "n03"]


def test_train_shapes_and_grayscale_becomes_rgb(folder):
    train, _ = imagenet_loaders(folder, 13, workers=0, image_size=96)
    x, y = next(iter(train))  # 13 images: the whole training split, the grayscale one included
    assert x.shape == (13, 3, 96, 96) and sorted(y.tolist()) == [0] * 5 + [1] * 4 + [2] * 4


def test_normalisation_uses_imagenet_statistics():
    mean, std = torch.tensor(IMAGENET_MEAN), torch.tensor(IMAGENET_STD)
    mean_colour = tuple((mean * 255).round().int().tolist())
    for colour, target in [(mean_colour, torch.zeros(3)), ((255, 255, 255), (1 - mean) / std)]:
        x = imagenet_transforms(False, 224)(Image.new("RGB", (400, 300), colour))
        assert torch.allclose(x.mean((1, 2)), target, atol=0.01) and x.std((1, 2)).max() < 1e-4


def test_eval_resize_defaults_to_the_usual_ratio_and_can_be_set():
    shorter = [t for t in imagenet_transforms(False, 224).transforms if type(t).__name__ == "Resize"][0]
    assert shorter.size == 256
    small = imagenet_transforms(False, 160, resize_size=160)
    assert small(Image.new("RGB", (200, 160))).shape == (3, 160, 160)


def test_pca_lighting_shifts_each_image_by_one_colour():
    torch.manual_seed(0)
    image = torch.rand(3, 8, 8)
    shift = PCALighting(0.1)(image) - image
    assert torch.allclose(shift, shift[:, :1, :1].expand_as(shift), atol=1e-6)
    assert 0 < shift.abs().max() < 0.2


def test_distributed_shards_do_not_overlap():
    data = list(range(101))
    shards = [list(ResumableSampler(data, num_replicas=2, rank=r, seed=0)) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 51  # padded to equal length, as DistributedSampler does
    assert set(shards[0]) | set(shards[1]) == set(data)
    assert len(set(shards[0]) & set(shards[1])) <= 1  # only the one padding index may repeat
    eval_shards = [list(ShardSampler(101, 2, r)) for r in range(2)]
    assert sorted(eval_shards[0] + eval_shards[1]) == data  # evaluation: every sample exactly once


@pytest.mark.parametrize("workers", [0, 2])
def test_resumed_stream_continues_at_the_same_batch(folder, workers):
    def stream():
        train, _ = imagenet_loaders(folder, 3, workers=workers, image_size=32, seed=5)
        return LoaderStream(train)

    full = stream()
    assert full.steps_per_epoch == 4 and full.num_samples == 13
    reference = [next(full)[1] for _ in range(11)]  # crosses two epoch boundaries
    first = stream()
    for _ in range(6):
        next(first)
    resumed = stream()
    resumed.load_state_dict(first.state_dict())
    decoded = []
    if workers == 0:  # the skipped images are never opened: the sampler's index list is sliced instead
        dataset = resumed.loader.dataset
        dataset.loader = lambda path, load=dataset.loader: decoded.append(path) or load(path)
    assert [next(resumed)[1].tolist() for _ in range(5)] == [y.tolist() for y in reference[6:]]
    assert len(decoded) == (15 if workers == 0 else 0)


def test_distributed_loaders_read_rank_and_world(folder, tmp_path):
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path}/pg", rank=0, world_size=1)
    try:
        train, val = imagenet_loaders(folder, 2, workers=0, distributed=True)
        assert train.sampler.num_replicas == 1 and len(val.sampler) == len(val.dataset)
    finally:
        torch.distributed.destroy_process_group()
    with pytest.raises(RuntimeError, match="init_process_group"):
        imagenet_loaders(folder, 2, workers=0, distributed=True)


def test_loader_stream_refuses_other_loaders(folder):
    _, val = imagenet_loaders(folder, 2, workers=0)
    with pytest.raises(TypeError, match="imagenet_loaders"):
        LoaderStream(val)


def test_missing_split_says_what_is_needed(tmp_path):
    with pytest.raises(FileNotFoundError, match="train/<class>"):
        imagenet_loaders(tmp_path, 2)
