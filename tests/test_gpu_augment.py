"""``--loader gpu``: the ImageNet augmentation of Sec. 4.2 done on a batch at once (run here on the CPU)."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF
from PIL import Image

from resattn_min.data.imagenet import imagenet_transforms
from resattn_min.data.imagenet_gpu import ImageNetGPUStream, colour_jitter, crop_boxes, resized_crops


def smooth_images(n: int, size: int, seed: int = 0) -> torch.Tensor:
    """uint8 images with structure at several scales (pure noise would hide resampling errors)."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, size // 8, size // 8, generator=g)
    fine = torch.rand(n, 3, size, size, generator=g)
    images = 0.8 * F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False) + 0.2 * fine
    return (images * 255).round().clamp(0, 255).to(torch.uint8)


def test_crop_boxes_follow_the_paper_s_scale_and_aspect_ratio():
    boxes = crop_boxes(4000, 160, 160, torch.Generator().manual_seed(0))
    top, left, h, w = boxes.T.double()
    assert (top >= 0).all() and (left >= 0).all() and (top + h <= 160).all() and (left + w <= 160).all()
    area, aspect = h * w / 160**2, w / h
    assert area.min() >= 0.075 and area.max() <= 1.0  # 8% to 100% of the image, up to rounding
    assert aspect.min() >= 0.74 and aspect.max() <= 1.36  # 3/4 to 4/3, up to rounding
    # log-uniform aspect ratio: as many crops wider than tall as taller than wide
    assert abs((aspect > 1).double().mean() - (aspect < 1).double().mean()) < 0.05


def test_a_very_wide_image_falls_back_to_a_centre_crop_of_allowed_aspect():
    top, left, h, w = crop_boxes(50, 10, 200, torch.Generator().manual_seed(0), scale=(0.9, 1.0)).T
    assert (h == 10).all() and (w == round(10 * 4 / 3)).all() and (left == (200 - w) // 2).all()


def test_whole_image_box_is_the_identity_and_flip_mirrors():
    images = smooth_images(3, 24).float() / 255
    whole = torch.tensor([[0, 0, 24, 24]] * 3)
    no, yes = torch.zeros(3, dtype=torch.bool), torch.ones(3, dtype=torch.bool)
    torch.testing.assert_close(resized_crops(images, whole, no, 24), images, atol=1e-5, rtol=0)
    torch.testing.assert_close(resized_crops(images, whole, yes, 24), images.flip(-1), atol=1e-5, rtol=0)


def test_a_box_at_the_output_size_is_the_crop_itself():
    images = smooth_images(2, 32).float() / 255
    boxes = torch.tensor([[3, 5, 16, 16], [10, 16, 16, 16]])
    out = resized_crops(images, boxes, torch.zeros(2, dtype=torch.bool), 16)
    expected = torch.stack([images[0, :, 3:19, 5:21], images[1, :, 10:26, 16:32]])
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_resizing_the_whole_image_is_bilinear_interpolation():
    images = smooth_images(2, 20).float() / 255
    whole = torch.tensor([[0, 0, 20, 20]] * 2)
    out = resized_crops(images, whole, torch.zeros(2, dtype=torch.bool), 35)
    expected = F.interpolate(images, size=(35, 35), mode="bilinear", align_corners=False)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_colour_jitter_is_torchvision_s_in_a_fixed_order():
    images = smooth_images(4, 16).float() / 255
    b, c, s = torch.tensor([0.6, 1.4, 1.0, 0.9]), torch.tensor([1.3, 0.7, 1.1, 1.0]), torch.tensor(
        [0.8, 1.2, 0.6, 1.4])
    ours = colour_jitter(images.clone(), b, c, s)
    for i in range(4):
        ref = TF.adjust_saturation(TF.adjust_contrast(TF.adjust_brightness(images[i], b[i].item()),
                                                      c[i].item()), s[i].item())
        torch.testing.assert_close(ours[i], ref, atol=1e-5, rtol=0)


def test_training_batches_are_normalised_crops_and_resume_exactly():
    images, labels = smooth_images(20, 32), torch.arange(20) % 4

    def stream():
        return ImageNetGPUStream(images, labels, 8, image_size=24, seed=3)

    first = stream()
    batches = [next(first) for _ in range(5)]  # crosses the epoch boundary (2 batches per epoch)
    assert batches[0][0].shape == (8, 3, 24, 24) and batches[0][0].dtype == torch.float32
    # normalised: ImageNet-like statistics, not [0, 1] pixels
    assert batches[0][0].min() < -1 and batches[0][0].max() > 1
    stopped = stream()
    for _ in range(3):  # a run stopped after 3 batches, its stream state saved in the checkpoint
        next(stopped)
    resumed = stream()
    resumed.load_state_dict(stopped.state_dict())
    for expected in batches[3:]:
        got = next(resumed)
        torch.testing.assert_close(got[0], expected[0], rtol=0, atol=0)
        assert torch.equal(got[1], expected[1])
    other_seed = ImageNetGPUStream(images, labels, 8, image_size=24, seed=4)
    assert not torch.equal(next(other_seed)[0], batches[0][0])


def test_evaluation_matches_the_pil_pipeline():
    images = smooth_images(3, 48)
    ours = torch.cat([x for x, _ in ImageNetGPUStream(images, torch.zeros(3, dtype=torch.long), 2,
                                                      image_size=40, resize_size=46, train=False)])
    pil = imagenet_transforms(False, image_size=40, resize_size=46)
    ref = torch.stack([pil(Image.fromarray(im.permute(1, 2, 0).numpy())) for im in images])
    assert ours.shape == ref.shape == (3, 3, 40, 40)
    # PIL resizes in uint8 and with its own antialiasing filter: close, not bitwise
    assert (ours - ref).abs().mean() < 0.02 and (ours - ref).abs().max() < 0.25


def test_evaluation_at_the_image_s_own_size_is_only_normalisation():
    images = smooth_images(2, 32)
    stream = ImageNetGPUStream(images, torch.zeros(2, dtype=torch.long), 2, image_size=32, resize_size=32,
                               train=False)
    x, _ = next(iter(stream))
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)))
    torch.testing.assert_close(x, (images.float() / 255 - mean) / std, atol=1e-6, rtol=0)


def test_a_crop_larger_than_the_resize_is_refused():
    with pytest.raises(ValueError, match="smaller than the crop"):
        ImageNetGPUStream(smooth_images(2, 32), torch.zeros(2, dtype=torch.long), 2, image_size=40,
                          resize_size=36, train=False)


def test_the_lighting_noise_shifts_every_pixel_of_an_image_by_one_colour():
    flat = torch.full((16, 3, 20, 20), 128, dtype=torch.uint8)
    stream = ImageNetGPUStream(flat, torch.zeros(16, dtype=torch.long), 16, image_size=20, jitter=0.0)
    x, _ = next(stream)
    per_image = x.flatten(2)
    # a flat image stays flat through crop, flip and (zero) jitter: only the lighting moves its colour
    assert per_image.std(2).max() < 1e-5
    colours = per_image[:, :, 0]
    assert colours.std(0).min() > 1e-3 and not math.isclose(colours[0, 0].item(), colours[1, 0].item())
    assert np.isfinite(x.numpy()).all()
