"""Mixed precision for every GPU a student meets: bfloat16 where it is native, float16 with loss scaling
on older GPUs (Colab's T4), chosen from the compute capability; the scaling changes no step that does
not overflow, skips one that does, and works the way the CUDA-graph step uses it (checked on the CPU)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from resattn_min.train.cuda_graph import (
    TrainingSnapshot,
    backward_and_update,
    device_side_sgd,
    loss_and_correct,
)
from resattn_min.train.precision import AMP_CHOICES, amp_name, loss_scaler, resolve_amp
from resattn_min.train.step import train_step

CUDA, CPU = torch.device("cuda"), torch.device("cpu")


@pytest.mark.parametrize("capability,expected", [((7, 5), torch.float16), ((7, 0), torch.float16),
                                                 ((8, 0), torch.bfloat16), ((9, 0), torch.bfloat16)])
def test_auto_picks_bfloat16_from_ampere_on_and_float16_before(capability, expected):
    assert resolve_amp("auto", CUDA, capability) == expected  # a T4 is 7.5, an A100 8.0, an H100 9.0


def test_explicit_choices_are_kept_and_a_cpu_runs_in_full_precision():
    assert [resolve_amp(a, CUDA, (7, 5)) for a in ("bf16", "fp16", "off")] == [torch.bfloat16, torch.float16,
                                                                                None]
    assert all(resolve_amp(a, CPU) is None for a in AMP_CHOICES)
    names = [amp_name(resolve_amp(a, CUDA, (7, 5))) for a in ("auto", "bf16", "off")]
    assert names == ["fp16", "bf16", "off"]
    with pytest.raises(ValueError, match="amp must be one of"):
        resolve_amp("fp8", CUDA)


def test_only_float16_gets_a_loss_scaler():
    assert isinstance(loss_scaler(torch.float16, CPU), torch.amp.GradScaler)
    assert loss_scaler(torch.bfloat16, CUDA) is None and loss_scaler(None, CPU) is None


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 36, 5))


def _sgd(model: nn.Module, **kw) -> torch.optim.SGD:
    return torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-4, **kw)


def _batches(n: int = 3):
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(16, 3, 8, 8, generator=g), torch.randint(0, 5, (16,), generator=g))
            for _ in range(n)]


def _weights(model: nn.Module) -> list[torch.Tensor]:
    return [v.clone() for v in model.state_dict().values()]


def test_a_power_of_two_loss_scale_changes_no_step():
    plain, scaled = _net(), _net()
    opt_plain, opt_scaled = _sgd(plain), _sgd(scaled)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**12)
    for x, y in _batches():
        train_step(plain, opt_plain, x, y, 0.1)
        train_step(scaled, opt_scaled, x, y, 0.1, scaler=scaler)
    assert all(torch.equal(a, b) for a, b in zip(_weights(plain), _weights(scaled), strict=True))
    assert scaler.get_scale() == 2.0**12  # no overflow: the scale grows only after 2,000 clean steps


def test_an_overflowing_step_is_skipped_and_the_scale_halved():
    model, scaler = _net(), torch.amp.GradScaler("cpu", init_scale=2.0**12)
    optimizer = _sgd(model)
    (x, y), (x2, y2) = _batches(2)
    train_step(model, optimizer, x, y, 0.1, scaler=scaler)
    before = _weights(model)[:2]
    momentum = [optimizer.state[p]["momentum_buffer"].clone() for p in model.parameters()]
    hook = model[0].weight.register_hook(lambda grad: grad * float("inf"))  # a gradient that overflows
    train_step(model, optimizer, x2, y2, 0.1, scaler=scaler)
    hook.remove()
    assert all(torch.equal(a, b) for a, b in zip(before, _weights(model)[:2], strict=True))
    assert all(torch.equal(m, optimizer.state[p]["momentum_buffer"])
               for m, p in zip(momentum, model.parameters(), strict=True))
    assert scaler.get_scale() == 2.0**11
    train_step(model, optimizer, x2, y2, 0.1, scaler=scaler)
    assert not torch.equal(before[0], model[0].weight)  # the next clean step updates again


def _device_side_step(model, optimizer, lr, x, y, scaler):
    """The body of the CUDA-graph step, run eagerly: the fused kernel takes lr, scale and overflow."""
    lr.fill_(0.1)
    optimizer.zero_grad(set_to_none=True)
    loss, _ = loss_and_correct(model(x), y)
    backward_and_update(loss, optimizer, scaler)


def test_the_graph_steps_device_side_update_matches_the_eager_one_and_skips_overflow():
    eager, graphed = _net(), _net()
    opt_eager, opt_graphed = _sgd(eager), _sgd(graphed)
    lr = device_side_sgd(opt_graphed, CPU)
    scalers = [torch.amp.GradScaler("cpu", init_scale=2.0**12) for _ in range(2)]
    for x, y in _batches():
        train_step(eager, opt_eager, x, y, 0.1, scaler=scalers[0])
        _device_side_step(graphed, opt_graphed, lr, x, y, scalers[1])
    for a, b in zip(_weights(eager), _weights(graphed), strict=True):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)  # fused and foreach kernels round alike
    before = _weights(graphed)
    hook = graphed[4].bias.register_hook(lambda grad: grad * float("nan"))
    _device_side_step(graphed, opt_graphed, lr, *_batches(1)[0], scalers[1])
    hook.remove()
    params = {k for k, _ in graphed.named_parameters()}
    assert all(torch.equal(a, b) for (k, a), b in zip(graphed.state_dict().items(), before, strict=True)
               if k in params)
    assert scalers[1].get_scale() == 2.0**11


def test_a_snapshot_puts_back_weights_statistics_momentum_and_scale():
    model, scaler = _net(), torch.amp.GradScaler("cpu", init_scale=2.0**12)
    optimizer = _sgd(model)
    fresh = _net()
    fresh_opt = _sgd(fresh)
    snapshot = TrainingSnapshot(model, optimizer, scaler)
    for x, y in _batches():
        train_step(model, optimizer, x, y, 0.1, scaler=scaler)
    scaler.update(2.0**5)
    snapshot.restore()
    assert all(torch.equal(a, b) for a, b in zip(_weights(model), _weights(fresh), strict=True))
    assert scaler.get_scale() == 2.0**12
    x, y = _batches(1)[0]  # a zeroed momentum makes the next step SGD's first one, bit for bit
    train_step(model, optimizer, x, y, 0.1)
    train_step(fresh, fresh_opt, x, y, 0.1)
    assert all(torch.equal(a, b) for a, b in zip(_weights(model), _weights(fresh), strict=True))


def test_compile_left_unset_compiles_long_runs_on_recent_gpus_only():
    from resattn_min.train.run_config import COMPILE_FROM, TrainConfig, resolve_compile

    cuda, cpu, long, short = torch.device("cuda"), torch.device("cpu"), 160_000, COMPILE_FROM - 1
    assert TrainConfig().compile is None  # unset: decided per run
    assert resolve_compile(None, cuda, long, capability=(9, 0))  # the paper's schedule on an H200
    assert not resolve_compile(None, cuda, long, capability=(7, 5))  # a T4: not measured there
    assert not resolve_compile(None, cuda, short, capability=(9, 0))  # compiling would not pay
    assert not resolve_compile(None, cuda, long, budget=True, capability=(9, 0))  # a lesson
    assert not resolve_compile(None, cpu, long)
    assert resolve_compile(True, cpu, short) and not resolve_compile(False, cuda, long, capability=(9, 0))


def test_the_shipped_configs_leave_compile_to_the_run():
    import yaml

    from resattn_min.train.run_config import CONFIGS

    for path in sorted(CONFIGS.glob("*.yaml")):
        assert yaml.safe_load(path.read_text()).get("compile") is None, path.name  # absent or null
