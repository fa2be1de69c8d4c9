"""Bad image files are refused with their path or skipped and counted, as the user chooses; the decoded
cache follows its folder; data too small for one batch is said so."""

import json
from pathlib import Path

import pytest
import torch
from _train_helpers import error_of, one_thread, tiny_image_folder, write_config  # noqa: F401
from PIL import Image
from torchvision.datasets import ImageFolder

from resattn_min.cli import main
from resattn_min.data import load_image_tensors
from resattn_min.data.bad_images import BadImageError
from resattn_min.data.imagenet import ResumableSampler
from resattn_min.train.checkpoint import list_checkpoints, load_checkpoint

#: Both ways of feeding image folders: decoded once (``gpu``), or by DataLoader workers, file by file.
LOADERS = ["gpu", "workers"]


def folder_config(tmp_path, root, loader, **overrides):
    """A tiny run on ``root`` (16 training images): batches of 2, one epoch in 8 iterations."""
    values = dict(dataset=str(root), data_root=str(tmp_path / "data"), loader=loader, image_size=32,
                  eval_resize=36, workers=0, batch_size=2, total_iters=10, milestones=[5])
    return str(write_config(tmp_path / "c.yaml", tmp_path / "run", **{**values, **overrides}))


def with_bad_files(root):
    """A text file named .jpg among the training images and a truncated JPEG among the test images."""
    text = root / "train" / "n01" / "8.jpg"
    text.write_text("a text file, not an image")
    truncated = root / "val" / "n00" / "3.jpg"
    Image.new("RGB", (40, 48), (10, 200, 10)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:300])
    return text, truncated


@pytest.mark.parametrize("loader", LOADERS)
def test_an_unreadable_image_stops_the_run_naming_the_file(tmp_path, capsys, loader):
    text, _ = with_bad_files(tiny_image_folder(tmp_path / "images"))
    assert main(["train", "--config", folder_config(tmp_path, text.parents[2], loader)]) == 2
    err = error_of(capsys, one_line=True)
    assert f"error: {text} is not a readable image (" in err and "--on-bad-image skip" in err


def test_a_bad_image_met_mid_run_keeps_what_was_trained(tmp_path, capsys):
    root = tiny_image_folder(tmp_path / "images")
    files = ImageFolder(str(root / "train")).samples
    first_epoch = list(ResumableSampler(files, num_replicas=1, rank=0, seed=0))
    bad = Path(files[first_epoch[5]][0])  # in the third batch of 2: met after two steps
    bad.write_text("overwritten by a text file")
    assert main(["train", "--config", folder_config(tmp_path, root, "workers", ckpt_every=5)]) == 2
    assert f"error: {bad} is not a readable image" in error_of(capsys, one_line=True)
    assert [load_checkpoint(p)["iteration"] for p in list_checkpoints(tmp_path / "run")] == [2]


@pytest.mark.parametrize("loader", LOADERS)
def test_skipped_images_are_named_and_counted_in_the_results(tmp_path, capsys, loader):
    text, truncated = with_bad_files(tiny_image_folder(tmp_path / "images"))
    config = folder_config(tmp_path, text.parents[2], loader, on_bad_image="skip")
    assert main(["train", "--config", config]) == 0
    out = capsys.readouterr().out
    assert f"note: skipping {text}: " in out and f"note: skipping {truncated}: " in out
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["skipped_images"] == sorted([str(text), str(truncated)])
    assert results["test_images"] == 6  # the truncated one is not scored as a blank


def test_the_decoded_cache_follows_the_folder_it_came_from(tmp_path, capsys):
    root, cache_root = tiny_image_folder(tmp_path / "images"), tmp_path / "data"
    first = load_image_tensors(root, "train", cache_root)
    assert first.classes == ["n00", "n01"] and len(first) == 16
    (root / "train" / "n02").mkdir()
    Image.new("RGB", (40, 48), (0, 200, 0)).save(root / "train" / "n02" / "0.png")
    grown = load_image_tensors(root, "train", cache_root)
    assert grown.classes == ["n00", "n01", "n02"] and len(grown) == 17
    assert "the images changed since" in capsys.readouterr().out
    (root / "train" / "n00" / "0.png").write_text("overwritten")
    with pytest.raises(BadImageError, match="n00/0.png is not a readable image"):
        load_image_tensors(root, "train", cache_root)


def test_a_damaged_cache_file_is_decoded_again(tmp_path, capsys):
    root, cache_root = tiny_image_folder(tmp_path / "images"), tmp_path / "data"
    first = load_image_tensors(root, "test", cache_root)
    (cache,) = (cache_root / "cache").glob("*-test.pt")
    cache.write_bytes(cache.read_bytes()[:200])
    assert torch.equal(load_image_tensors(root, "test", cache_root).images, first.images)
    assert f"the decoded-image cache {cache} is unreadable" in capsys.readouterr().out


def test_a_batch_larger_than_the_training_images_is_one_line(tmp_path, capsys):
    root = tiny_image_folder(tmp_path / "images")
    assert main(["train", "--config", folder_config(tmp_path, root, "workers", batch_size=32)]) == 2
    assert "16 training images (per process) make no batch of 32" in error_of(capsys, one_line=True)
