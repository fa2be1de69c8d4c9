"""Small helpers the chapters share: receptive fields (chapter 2), an example image and map grids (chapter 4).

Nothing here is part of the network; it only measures or shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from torch import Tensor

from .. import env
from ..data.decoded import CIFAR_JPEG

__all__ = ["receptive_field", "gradient_receptive_field", "support_size", "example_image", "synthetic_image",
           "show_maps", "glue", "glue_all"]


def receptive_field(ops: Sequence[tuple[int, float]]) -> int:
    """Theoretical receptive field, in input pixels, of a chain of ``(kernel, stride)`` operations.

    A convolution or pooling of kernel ``k`` widens the field by ``k - 1`` steps of the current spacing
    (``jump``) between neighbouring outputs; a stride multiplies that spacing. Bilinear 2x upsampling is
    ``(2, 0.5)``: each output mixes two neighbouring inputs and the spacing halves.
    """
    field, jump = 1.0, 1.0
    for kernel, stride in ops:
        field += (kernel - 1) * jump
        jump *= stride
    return round(field)


def gradient_receptive_field(fn: Callable[[Tensor], Tensor], x: Tensor,
                             position: tuple[int, int] | None = None) -> Tensor:
    """``|d out[:, :, i, j] / d x|`` summed over batch and channels: the pixels one output position reads.

    ``position`` defaults to the centre of the output map. Run ``fn`` in eval mode: batch statistics
    would couple every pixel to every other one.
    """
    x = x.detach().clone().requires_grad_(True)
    out = fn(x)
    i, j = position if position is not None else (out.shape[-2] // 2, out.shape[-1] // 2)
    (grad,) = torch.autograd.grad(out[..., i, j].sum(), x)
    return grad.abs().sum(dim=(0, 1))


def support_size(field: Tensor) -> tuple[int, int]:
    """Height and width of the bounding box of the non-zero entries of a 2-D map."""
    rows = torch.nonzero(field.abs().sum(dim=1)).flatten()
    cols = torch.nonzero(field.abs().sum(dim=0)).flatten()
    if len(rows) == 0:
        return 0, 0
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def synthetic_image(size: int = 32) -> Tensor:
    """A deterministic test picture in [0, 1]: a sky gradient, a dark sea, a red sun and a white boat."""
    ys, xs = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    image = torch.stack([0.35 + 0.3 * ys, 0.55 + 0.25 * ys, 0.95 - 0.2 * ys])  # sky
    sea = ys > 0.6
    image[:, sea] = torch.tensor([0.05, 0.2, 0.4])[:, None]
    sun = (ys - 0.3) ** 2 + (xs - 0.7) ** 2 < 0.12**2
    image[:, sun] = torch.tensor([0.9, 0.2, 0.1])[:, None]
    boat = (ys > 0.5) & (ys < 0.62) & (xs > 0.2) & (xs < 0.5)
    image[:, boat] = 0.95
    return image


def example_image(cls: str = "ship", index: int = 0, root: Path | None = None) -> tuple[Tensor, str]:
    """A real CIFAR-10 test image from the JPEG copy under ``data/`` if present, else :func:`synthetic_image`.

    Returns the image (3 x H x W, values in [0, 1]) and a sentence saying which one was used.
    """
    path = (root or env.DATA_ROOT) / CIFAR_JPEG / "test" / cls / f"{index:04d}.jpg"
    if path.is_file():
        import numpy as np
        from PIL import Image

        pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
        return torch.from_numpy(pixels).permute(2, 0, 1).contiguous(), (
            f"a real CIFAR-10 test image ({cls}/{path.name} of the JPEG copy in {path.parent.parent.parent})"
        )
    return synthetic_image(), f"a synthetic image (no CIFAR-10 copy found at {path.parent.parent.parent})"


def show_maps(maps: Sequence[Sequence[Tensor]], row_titles: Sequence[str], col_titles: Sequence[str],
              cmap: str = "viridis", shared: bool = False, cell: float = 1.7):
    """A grid of 2-D maps (rows x columns) with titles; returns the figure.

    ``shared=True`` gives every map of a row the same colour scale (and a colour bar), so their values can
    be compared; otherwise each map is stretched to its own range.
    """
    import matplotlib.pyplot as plt

    rows, cols = len(maps), len(maps[0])
    fig, axes = plt.subplots(rows, cols, figsize=(cell * cols + 1.0, cell * rows), squeeze=False,
                             layout="constrained")
    for r, row in enumerate(maps):
        lo = min(float(m.min()) for m in row) if shared else None
        hi = max(float(m.max()) for m in row) if shared else None
        for c, m in enumerate(row):
            ax = axes[r][c]
            im = ax.imshow(m.detach().cpu(), cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(col_titles[c], fontsize=9)
            if c == 0:
                ax.set_ylabel(row_titles[r], fontsize=9)
        if shared:
            fig.colorbar(im, ax=list(axes[r]), shrink=0.85)
    return fig


def glue(name: str, value, display: bool = False) -> None:
    """Record ``value`` for the book's prose (myst-nb ``glue``); outside a book build, print it instead."""
    if hasattr(value, "item"):  # numpy and torch scalars: glue the plain number, whose repr formats
        value = value.item()
    try:
        from myst_nb import glue as myst_glue
    except ImportError:  # Colab and plain Jupyter have no myst-nb: the reader sees the number printed
        print(f"{name} = {value}")
        return
    myst_glue(name, value, display=display)


def glue_all(numbers: Mapping[str, object], prefix: str) -> None:
    """A chapter's one glue cell: every ``numbers[key]`` as ``prefix + key`` for the book's prose.

    Outside a book build (Colab, plain Jupyter) it does nothing: the numbers are in ``numbers``.
    """
    try:
        import myst_nb  # noqa: F401
    except ImportError:
        return
    for key, value in numbers.items():
        glue(prefix + key, value)
