"""Trained weights as users of timm and torchvision expect them: ``create_model(..., pretrained=True)``
offline, from files installed with the package, in a network that takes ``uint8 images / 255``;
``evaluate`` and ``torch.hub`` take them too."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from _train_helpers import error_of

from resattn_min import create_model
from resattn_min.analysis.runs_on_record import RESULTS, load_runs, load_trained
from resattn_min.cli import main
from resattn_min.env import DATA_ROOT
from resattn_min.models.mask_capture import capture_masks
from resattn_min.models.pretrained import WEIGHTS, WEIGHTS_DIR, WithPixelMean, pretrained_model, weights_path
from resattn_min.train.checkpoint import load_checkpoint, trained_config

ROOT = Path(__file__).resolve().parent.parent
JPEG = DATA_ROOT / "cifar10-jpeg"
needs_cifar = pytest.mark.skipif(not (JPEG / "test").is_dir(), reason="CIFAR-10 JPEG copy not here")


@pytest.mark.parametrize("name", list(WEIGHTS))
def test_each_entry_says_how_its_network_was_built_and_where_it_is_recorded(name):
    entry, path = WEIGHTS[name], weights_path(name)
    assert path.parent == WEIGHTS_DIR and path.stat().st_size < 5 * 2**20  # half precision, small
    state = load_checkpoint(path)  # the trainer's reader takes them: evaluate does
    trained = trained_config(state)
    assert trained["model"] == entry.model
    assert {k: trained.get(k) for k in entry.options} == entry.options
    assert all(trained.get(k) in (None, "arl") for k in ("combination",) if k not in entry.options)
    record = load_runs(entry.record.split("/")[0])[entry.record.split("/")[1]]
    assert record["iterations"] == state["iteration"] and record["config"]["model"] == entry.model
    assert (RESULTS / "checkpoints" / entry.file).resolve() == path.resolve()  # the old path still reads


def test_plain_networks_keep_the_keys_of_their_checkpoints():
    for name, entry in WEIGHTS.items():
        plain = create_model(entry.model, **entry.options)
        assert set(plain.state_dict()) == set(torch.load(weights_path(name), weights_only=True)["model"])


@pytest.mark.parametrize("name", ["cifar10_jpeg_attention56_arl", "cifar10_jpeg_attention92_nal"])
@pytest.mark.slow
def test_pretrained_network_is_the_trained_one_with_the_mean_subtraction_inside(name):
    entry = WEIGHTS[name]
    model = create_model(entry.model, pretrained=True, **entry.options)
    assert isinstance(model, WithPixelMean) and not model.training
    mean = torch.load(WEIGHTS_DIR / entry.pixel_mean, weights_only=True)
    images = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8)
    with torch.no_grad():
        assert torch.equal(model(images / 255), load_trained(name)(images / 255 - mean))
    assert model.pretrained_cfg["iterations"] == 16_000 and model.pretrained_cfg["weights"] == name


def test_the_mean_is_a_cifar_mean_image():
    mean = torch.load(WEIGHTS_DIR / "cifar10_jpeg_pixel_mean.pt", weights_only=True)
    assert mean.shape == (3, 32, 32) and mean.dtype == torch.float32
    assert ((mean > 0.3) & (mean < 0.7)).all()
    assert mean[2].mean() < mean[0].mean()  # CIFAR-10 is less blue than red, on average


def test_weights_that_do_not_exist_are_refused_in_one_line_naming_those_that_do():
    with pytest.raises(ValueError) as err:
        create_model("attention92_cifar", pretrained=True)  # the corrected 36m+20 network: none yet
    message = str(err.value)
    assert "\n" not in message and "no trained weights for attention92_cifar()" in message
    assert "attention92_cifar(trunk='36m+17')" in message
    assert "attention56_cifar(trunk='36m+17', combination='nal')" in message
    with pytest.raises(ValueError, match="no trained weights"):
        create_model("attention56_cifar", trunk="36m+17", activation="spatial", pretrained=True)


def test_default_options_may_be_spelled_out_and_a_new_classifier_keeps_the_features():
    spelled = pretrained_model("attention56_cifar", trunk="36m+17", combination="arl", activation="mixed")
    assert spelled.pretrained_cfg["weights"] == "cifar10_jpeg_attention56_arl"
    hundred = create_model("attention56_cifar", trunk="36m+17", pretrained=True, num_classes=100)
    assert hundred.network.fc.out_features == 100
    trained = spelled.network.state_dict()
    assert all(torch.equal(v, trained[k]) for k, v in hundred.network.state_dict().items()
               if not k.startswith("fc."))


@pytest.mark.slow
def test_masks_of_a_pretrained_network_are_recorded():
    model = create_model("attention56_cifar", trunk="36m+17", pretrained=True)
    with torch.no_grad(), capture_masks(model) as records:
        model(torch.rand(2, 3, 32, 32))
    assert [r.stage for r in records] == [1, 2, 3]
    with pytest.raises(ValueError, match="trained on 32x32 images"):
        model(torch.rand(1, 3, 64, 64))


@pytest.mark.slow
def test_torch_hub_loads_every_model_and_the_trained_weights():
    import importlib.util

    from resattn_min import list_models

    spec = importlib.util.spec_from_file_location("hubconf", ROOT / "hubconf.py")
    hubconf = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hubconf)
    entry_points = {n for n in dir(hubconf) if callable(getattr(hubconf, n)) and not n.startswith("_")}
    assert entry_points == set(list_models())
    model = torch.hub.load(str(ROOT), "attention56_cifar", source="local", trunk="36m+17", pretrained=True)
    images = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model(images), create_model("attention56_cifar", trunk="36m+17",
                                                        pretrained=True)(images))


def test_trained_weights_cannot_be_resumed(capsys, tmp_path):
    path = weights_path("cifar10_jpeg_attention56_arl")
    assert main(["train", "--resume", str(path), "--run-dir", str(tmp_path / "r"), "--dataset", "synthetic",
                 "--quick"]) == 2
    assert "holds no optimizer or data or rng state" in error_of(capsys, one_line=True)


def test_evaluate_names_the_installed_weights_when_it_finds_none(capsys):
    assert main(["evaluate", "cifar10_jpeg_attention93"]) == 2
    err = error_of(capsys, one_line=True)
    assert "no checkpoint at cifar10_jpeg_attention93" in err and "cifar10_jpeg_attention92_nal" in err


@needs_cifar
@pytest.mark.parametrize("how", ["name", "file"])
def test_evaluate_takes_the_installed_weights_by_name_or_file(capsys, monkeypatch, how):
    monkeypatch.setenv("RESATTN_QUICK", "1")  # a stratified slice of 500 test images
    name = "cifar10_jpeg_attention56_arl"
    target = name if how == "name" else str(RESULTS / "checkpoints" / f"{name}.fp16.pt")
    assert main(["evaluate", target, "--device", "cpu"]) == 0
    line = capsys.readouterr().out
    assert "attention56_cifar after 16000 iterations" in line and "on 500 test images" in line
    error = float(line.split("test error ")[1].split("%")[0])
    assert error == pytest.approx(100 * load_runs("cifar10_jpeg")["attention56_arl"]["test_error"], abs=5)


@needs_cifar
def test_the_pretrained_network_classifies_uint8_images_over_255_as_on_record():
    """500 test images of the copy it was trained on, as a user would pass them: ``uint8 / 255``."""
    from resattn_min.data import load_image_tensors, pixel_mean, stratified_subset

    model = create_model("attention56_cifar", trunk="36m+17", pretrained=True)
    test = stratified_subset(load_image_tensors(JPEG, "test"), 500, seed=0)
    with torch.no_grad():
        wrong = (model(test.images / 255).argmax(1) != test.labels).float().mean().item()
    recorded = load_runs("cifar10_jpeg")["attention56_arl"]["test_error"]
    assert wrong == pytest.approx(recorded, abs=0.05)  # 500 images: a standard error of about 1.6 points
    shipped = torch.load(WEIGHTS_DIR / "cifar10_jpeg_pixel_mean.pt", weights_only=True)
    assert torch.allclose(shipped, pixel_mean(load_image_tensors(JPEG, "train").images), atol=1e-6)
