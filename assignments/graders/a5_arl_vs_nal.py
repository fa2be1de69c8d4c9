"""Grader of assignment 5: ARL against NAL at small scale, by the stages' mean absolute response (Fig. 4)."""

from __future__ import annotations

import copy
import itertools

import torch
from torch import nn

from ..grading import Assignment, shared
from .quick import PASS_ACCURACY, QUICK_STEPS, grading_data, tiny_network

ASSIGNMENT = Assignment(
    number=5,
    title="Attention residual learning against naive attention learning (Fig. 4, Table 3)",
    filename="a5_arl_vs_nal.py",
    chapter="chapter 3, Attention residual learning (Sec. 3.1, Table 3, Fig. 4)",
    effort="3-4 hours",
)

SWEEP, SEED = (1, 2, 3), 5


def _images(seed: int = 3) -> torch.Tensor:
    return torch.randn(16, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


def _responses(model: nn.Module, images: torch.Tensor) -> list[float]:
    """The grader's own measurement: mean |output| per stage, batch statistics, on a copy."""
    probe = copy.deepcopy(model).train()
    out: list[float] = []
    for stage in probe.stages:
        stage.register_forward_hook(lambda _m, _i, o: out.append(o.abs().mean().item()))
    with torch.no_grad():
        probe(images)
    return out


def _close(got: list[float], expected: list[float], what: str) -> None:
    assert isinstance(got, (list, tuple)) and len(got) == len(expected), (
        f"{what}: expected {len(expected)} numbers, got {got!r}"
    )
    diff = max(abs(float(g) - e) / max(abs(e), 1e-6) for g, e in zip(got, expected, strict=True))
    assert diff < 1e-3, (
        f"{what}: got {[round(float(g), 4) for g in got]}, expected {[round(e, 4) for e in expected]} "
        "(mean of |output| per stage, BatchNorm with batch statistics)"
    )


def _fig4(sub) -> dict:
    """The submission's Fig. 4 run with one module per stage (it trains two networks)."""
    return shared(sub, "fig4", lambda: sub.fig4_experiment(
        tiny_network, grading_data(), modules=1, steps=QUICK_STEPS
    ))


def _sweep(sub) -> dict:
    """The submission's depth sweep over ``SWEEP`` modules per stage, seed ``SEED``."""
    return shared(sub, "sweep", lambda: sub.depth_sweep(tiny_network, _images(), SWEEP, seed=SEED))


@ASSIGNMENT.check(points=2)
def measures_each_stage(sub) -> None:
    """stage_responses gives the mean |output| of every stage, measured with batch statistics"""
    for combination, modules in (("arl", 1), ("nal", 2)):
        model = tiny_network(combination, modules)
        expected = _responses(model, _images())
        _close(sub.stage_responses(model, _images()), expected, f"{combination}, m={modules}")


@ASSIGNMENT.check(points=1)
def leaves_the_model_as_found(sub) -> None:
    """stage_responses leaves the model unchanged: mode, BatchNorm statistics, no hooks, no gradients"""
    model = tiny_network("arl", 1).eval()
    model.stages[1].train()  # a mixed state must come back as it was, not as model.train(mode)
    modes = [m.training for m in model.modules()]
    state = copy.deepcopy(model.state_dict())
    sub.stage_responses(model, _images())
    assert [m.training for m in model.modules()] == modes, "the training mode of some layers changed"
    for name, value in model.state_dict().items():
        assert torch.equal(value, state[name]), f"{name} changed (BatchNorm statistics of the measured pass?)"
    hooks = [name for name, m in model.named_modules() if m._forward_hooks or m._forward_pre_hooks]
    assert not hooks, f"hooks were left on {hooks[:3]}: remove them (or measure a copy)"
    assert all(p.grad is None for p in model.parameters()), "gradients were computed: use torch.no_grad()"


@ASSIGNMENT.check(points=1)
def sweeps_the_depth(sub) -> None:
    """depth_sweep gives the last stage's response at initialisation for each m, seeded before each build"""
    got = _sweep(sub)
    assert isinstance(got, dict) and set(got) == {"arl", "nal"}, f"expected keys 'arl' and 'nal', got {got!r}"
    for combination in ("arl", "nal"):
        expected = []
        for m in SWEEP:
            torch.manual_seed(SEED)
            expected.append(_responses(tiny_network(combination, m), _images())[-1])
        _close(got[combination], expected, f"{combination} over m = {SWEEP}")


@ASSIGNMENT.check(points=2)
def nal_fades_with_depth(sub) -> None:
    """Fig. 4: the NAL / ARL ratio of the last stage falls as modules are stacked, and ARL's response grows"""
    got = _sweep(sub)
    ratio = [n / a for n, a in zip(got["nal"], got["arl"], strict=True)]
    shown = ", ".join(f"m={m}: {r:.3f}" for m, r in zip(SWEEP, ratio, strict=True))
    assert all(b < a for a, b in itertools.pairwise(ratio)), f"NAL / ARL should fall with m; got {shown}"
    assert all(b > a for a, b in itertools.pairwise(got["arl"])), (
        f"ARL's response should grow with m (each module multiplies by 1 + M >= 1); got {got['arl']}"
    )


@ASSIGNMENT.check(points=1)
def fig4_starts_from_the_seed(sub) -> None:
    """fig4_experiment records both rules at initialisation, from networks built after manual_seed(seed)"""
    got = _fig4(sub)
    assert isinstance(got, dict) and list(got) == ["arl", "nal"], f"expected keys arl, nal in order: {got}"
    test_images = grading_data()[2]
    for combination in ("arl", "nal"):
        torch.manual_seed(0)
        expected = _responses(tiny_network(combination, 1), test_images)
        _close(got[combination]["init"], expected, f"{combination} at initialisation")


@ASSIGNMENT.check(points=2)
def nal_stays_below_arl(sub) -> None:
    """Fig. 4 at small scale: at every stage NAL's response is below ARL's, before and after training"""
    got = _fig4(sub)
    for when in ("init", "trained"):
        arl, nal = got["arl"][when], got["nal"][when]
        assert len(arl) == len(nal) == 3, f"expected three stages ({when}): arl {arl}, nal {nal}"
        assert all(n < a for n, a in zip(nal, arl, strict=True)), f"{when}: NAL {nal} is not below ARL {arl}"
    assert got["arl"]["trained"] != got["arl"]["init"], "the responses did not change: was it trained?"


@ASSIGNMENT.check(points=1)
def arl_network_learns(sub) -> None:
    """The ARL network of fig4_experiment beats the accuracy threshold on the quick test images"""
    score = float(_fig4(sub)["arl"]["accuracy"])
    assert 0 <= score <= 1, f"accuracy should be a fraction in [0, 1], got {score}"
    assert score >= PASS_ACCURACY, (
        f"test accuracy {score:.2f} after {QUICK_STEPS} steps, expected at least {PASS_ACCURACY} "
        "(chance is 0.10)"
    )
