"""Stacked runs (train/stacked.py): n networks trained as one are n runs, each as if trained alone."""

import _tiny_models  # noqa: F401  (registers the tiny models)
import pytest
import torch

from resattn_min import create_model
from resattn_min.train.cuda_graph import loss_and_correct
from resattn_min.train.stacked import stack_images, stack_models, stack_size, stack_states, unstack_state


def _runs(name: str, n: int, **options) -> list[torch.nn.Module]:
    models = []
    for seed in range(n):
        torch.manual_seed(seed)
        models.append(create_model(name, **options))
    return models


def _sgd(model: torch.nn.Module) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4, nesterov=True)


@pytest.mark.parametrize("options", [{}, {"combination": "nal"}, {"activation": "channel"},
                                     {"activation": "spatial"}, {"mask": "local"}, {"unit": "resnext"}])
@pytest.mark.slow
def test_stacked_forward_is_each_run_on_its_own_images(options):
    models = _runs("attention56_cifar", 3, **options)
    stacked = stack_models(models)
    images = [torch.randn(4, 3, 32, 32) for _ in models]
    for mode in ("train", "eval"):
        for m in (*models, stacked):
            m.train(mode == "train")
        with torch.no_grad():
            out = stacked(stack_images(images))
            assert out.shape == (4, 3, 10)
            for k, (model, x) in enumerate(zip(models, images, strict=True)):
                torch.testing.assert_close(out[:, k], model(x), rtol=1e-4, atol=1e-5)


@pytest.fixture
def float64():
    """Float64 so that rounding (not a decision of a max-pool or ReLU flipped by it) is all that differs."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(before)


@pytest.mark.slow
def test_stacked_training_is_each_run_trained_alone(float64):
    """Three SGD steps (Nesterov, momentum, weight decay) of a stack of three runs on their own batches:
    weights, BatchNorm statistics and momentum equal those of the three runs trained one by one."""
    models = _runs("tiny_attention_test", 3)
    stacked = stack_models(models)
    solo_opts, stack_opt = [_sgd(m) for m in models], _sgd(stacked)
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        images = [torch.randn(8, 3, 32, 32, generator=gen) for _ in models]
        labels = [torch.randint(0, 10, (8,), generator=gen) for _ in models]
        for model, opt, x, y in zip(models, solo_opts, images, labels, strict=True):
            opt.zero_grad()
            loss, _ = loss_and_correct(model(x), y)
            loss.backward()
            opt.step()
        stack_opt.zero_grad()
        losses, correct = loss_and_correct(stacked(stack_images(images)), torch.stack(labels, dim=1))
        assert losses.shape == correct.shape == (3,)
        losses.sum().backward()
        stack_opt.step()
    for k, state in enumerate(unstack_state(stacked.state_dict(), 3)):
        solo = models[k].state_dict()
        assert list(state) == list(solo) and all(state[key].shape == solo[key].shape for key in solo)
        for key in solo:
            torch.testing.assert_close(state[key], solo[key], rtol=1e-6, atol=1e-7)
    buffers = [stack_opt.state[p]["momentum_buffer"] for p in stacked.parameters()]
    for k, opt in enumerate(solo_opts):
        for stacked_buf, p in zip(buffers, models[k].parameters(), strict=True):
            torch.testing.assert_close(stacked_buf.unflatten(0, (3, -1))[k], opt.state[p]["momentum_buffer"],
                                       rtol=1e-6, atol=1e-7)


def test_state_dicts_round_trip_bitwise_with_the_usual_keys():
    models = _runs("attention56_cifar", 2)
    states = [m.state_dict() for m in models]
    back = unstack_state(stack_states(states), 2)
    for state, original in zip(back, states, strict=True):
        assert list(state) == list(original)
        assert all(torch.equal(state[k], original[k]) for k in original)
    fresh = create_model("attention56_cifar")
    fresh.load_state_dict(back[1])  # a run's share is a plain checkpoint of the plain network
    assert stack_size(stack_models(models)) == 2 and stack_size(fresh) == 1


def test_what_cannot_be_stacked_is_refused():
    with pytest.raises(ValueError, match="Inception"):
        stack_models(_runs("attention56_cifar", 2, unit="inception"))
    with pytest.raises(ValueError, match="one architecture"):
        stack_models([create_model("attention56_cifar"), create_model("attention92_cifar")])
    a, b = (m.state_dict() for m in _runs("tiny_attention_test", 2))
    key = next(k for k in a if k.endswith("num_batches_tracked"))
    b[key] += 1
    with pytest.raises(ValueError, match="same iteration"):
        stack_states([a, b])
