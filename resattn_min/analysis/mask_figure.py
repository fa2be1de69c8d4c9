"""The paper's Fig. 1 from a trained network: what the mask of each stage keeps, on real images.

Fig. 1 shows, for an ImageNet image, soft masks of low-level and high-level Attention Modules: the first
stage's mask works at a fine resolution and follows edges and textures, the last stage's is coarse and
picks out whole objects. ``mask_responses`` runs a trained network on a few images and returns, per
stage, the mean over the channels of its first module's mask ``M(x)`` at the mask's own resolution;
``plot_masks`` draws images and responses side by side. ``python -m resattn_min masks CHECKPOINT`` does
both for the validation images of the checkpoint's ImageNet-style dataset and writes a PNG with a JSON
record of how it was made (command, device, commit, date).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from ..atomic import write_atomic, write_json
from ..models.mask_capture import capture_masks

__all__ = ["mask_responses", "plot_masks", "write_mask_figure"]


@torch.no_grad()
def mask_responses(model: nn.Module, images: Tensor) -> dict[int, Tensor]:
    """``{stage: (N, h, w)}``: each stage's first mask, averaged over channels, at its own resolution.

    ``images`` are normalised as the network was trained; the model is put in eval mode for the pass.
    """
    was_training = model.training
    model.eval()
    with capture_masks(model) as records:
        model(images)
    model.train(was_training)
    firsts = {}
    for record in records:
        firsts.setdefault(record.stage, record.mask)
    return {stage: mask.float().mean(1) for stage, mask in sorted(firsts.items())}


def plot_masks(pictures: Tensor, responses: dict[int, Tensor], titles: list[str] | None = None):
    """A grid: one row per image, the picture then each stage's response (own colour scale per panel)."""
    import matplotlib.pyplot as plt

    n, stages = len(pictures), sorted(responses)
    fig, axes = plt.subplots(n, 1 + len(stages), figsize=(2.1 * (1 + len(stages)), 2.1 * n),
                             layout="constrained", squeeze=False)
    for i in range(n):
        axes[i, 0].imshow(pictures[i].permute(1, 2, 0).clamp(0, 1).cpu().numpy())
        axes[i, 0].set_title(titles[i] if titles else "image", fontsize=8)
        for j, stage in enumerate(stages, start=1):
            r = responses[stage][i].cpu()
            size = r.shape[-1]
            axes[i, j].imshow(r.numpy(), cmap="magma", interpolation="nearest")  # its own pixels
            if i == 0:
                axes[i, j].set_title(f"stage {stage} mask", fontsize=8)
            axes[i, j].set_xlabel(f"{size} px, range {r.min():.2f}-{r.max():.2f}", fontsize=6)
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def write_mask_figure(checkpoint: str | Path, out: str | Path, *, images: int = 6, size: int = 224,
                      device: str = "auto") -> dict:
    """Load a checkpoint of an ImageNet-style run, draw :func:`plot_masks` for ``images`` validation images
    (one per class, centre crops at ``size``), write ``out`` (PNG) and ``out`` with ``.json``."""
    from dataclasses import replace

    import torchvision

    from ..data.decoded import _split_dir
    from ..data.imagenet import IMAGENET_MEAN, IMAGENET_STD, imagenet_transforms
    from ..train.build import build_model
    from ..train.checkpoint import load_checkpoint, load_weights, trained_config
    from ..train.distributed import init_distributed
    from ..train.results import environment
    from ..train.run_config import TrainConfig

    info = init_distributed(device)
    ckpt = load_checkpoint(checkpoint, info.device)
    cfg = replace(TrainConfig.from_dict(trained_config(ckpt)), resume=None)
    val = torchvision.datasets.ImageFolder(_split_dir(Path(cfg.dataset), "test"),
                                           imagenet_transforms(False, size, resize_size=size))
    picks, seen = [], set()
    for index, label in enumerate(val.targets):  # the first image of each class, in class order
        if label not in seen:
            seen.add(label)
            picks.append(index)
    picks = picks[:images]
    batch = torch.stack([val[i][0] for i in picks]).to(info.device)
    model = build_model(cfg, len(val.classes)).to(info.device)
    load_weights(model, ckpt)
    responses = mask_responses(model, batch)
    mean = torch.tensor(IMAGENET_MEAN, device=info.device).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=info.device).view(3, 1, 1)
    fig = plot_masks(batch * std + mean, responses, [val.classes[val.targets[i]] for i in picks])
    out = Path(out)
    write_atomic(out, lambda f: fig.savefig(f, dpi=120, format="png"))
    record = {"checkpoint": str(checkpoint), "model": cfg.model, "iteration": ckpt["iteration"],
              "dataset": cfg.dataset, "images": [val.samples[i][0] for i in picks], "size": size,
              "mask_sizes": {s: int(r.shape[-1]) for s, r in responses.items()},
              **environment(info.device)}
    write_json(out.with_suffix(".json"), record)
    return record
