"""Fig. 1 from a trained network (analysis/mask_figure.py): each stage's mask at its own resolution."""

import json
from dataclasses import asdict

import pytest
import torch
from test_data import make_folder

from resattn_min import create_model
from resattn_min.analysis.mask_figure import mask_responses
from resattn_min.cli import main
from resattn_min.models.mask_capture import capture_masks
from resattn_min.train.checkpoint import save_checkpoint
from resattn_min.train.run_config import TrainConfig


def test_one_response_per_stage_at_the_masks_own_resolution():
    """ImageNet Attention-56 at 64 px: stages at 16, 8, 4 px; each response is the channel mean of M(x)."""
    torch.manual_seed(0)
    model = create_model("attention56", num_classes=3)
    images = torch.randn(2, 3, 64, 64)
    responses = mask_responses(model, images)
    assert {s: tuple(r.shape) for s, r in responses.items()} == {1: (2, 16, 16), 2: (2, 8, 8), 3: (2, 4, 4)}
    model.eval()
    with torch.no_grad(), capture_masks(model) as records:
        model(images)
    torch.testing.assert_close(responses[2], records[1].mask.mean(1))
    assert all(0 <= r.min() and r.max() <= 1 for r in responses.values())  # sigmoid masks
    model.train()
    mask_responses(model, images)
    assert model.training


@pytest.mark.slow
def test_masks_command_writes_the_figure_and_its_record(tmp_path):
    folder = make_folder(tmp_path / "tiny-folder", sizes=(40, 40))
    cfg = TrainConfig(model="attention56", dataset=str(folder), image_size=32)
    torch.manual_seed(0)
    model = create_model("attention56", num_classes=3)
    ckpt = save_checkpoint(tmp_path / "run", 7, {"model": model.state_dict(), "config": asdict(cfg)})
    out = tmp_path / "fig" / "masks.png"
    assert main(["masks", str(ckpt), "--out", str(out), "--images", "2", "--size", "32",
                 "--device", "cpu"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    record = json.loads(out.with_suffix(".json").read_text())
    assert record["iteration"] == 7 and record["model"] == "attention56"
    assert record["mask_sizes"] == {"1": 8, "2": 4, "3": 2} and len(record["images"]) == 2
    assert record["date"] and record["command"]
