"""Eq. 7: the label noise of the noisy-label experiment (Table 5)."""

import pytest
import torch

from resattn_min.data.noisy_labels import confusion_matrix, corrupt_labels


def test_confusion_matrix_is_eq7():
    q = confusion_matrix(0.7, 10)
    assert torch.allclose(q.diagonal(), torch.full((10,), 0.7, dtype=q.dtype))
    off = q[~torch.eye(10, dtype=torch.bool)]
    assert torch.allclose(off, torch.full_like(off, 0.3 / 9))
    assert torch.allclose(q.sum(1), torch.ones(10, dtype=q.dtype))


@pytest.mark.parametrize("r", [-0.1, 1.5])
def test_bad_r_is_a_clear_error(r):
    with pytest.raises(ValueError, match="clean label ratio"):
        confusion_matrix(r)
    with pytest.raises(ValueError, match="clean label ratio"):
        corrupt_labels(torch.zeros(4, dtype=torch.int64), r, 10, seed=0)


@pytest.mark.parametrize("r", [0.9, 0.5, 0.3])
def test_realised_noise_matches_q(r):
    labels = torch.arange(200_000) % 10
    noisy, info = corrupt_labels(labels, r, 10, seed=1)
    realised = torch.tensor(info["confusion"])
    # each row holds 20k draws: a binomial fraction's standard deviation is at most 0.0036
    assert (realised - confusion_matrix(r, 10)).abs().max() < 0.015
    assert info["clean_fraction"] == pytest.approx(r, abs=0.005)
    assert info["r"] == r and info["seed"] == 1


def test_r_one_keeps_labels_and_seed_repeats():
    labels = torch.randint(0, 10, (5000,), generator=torch.Generator().manual_seed(0))
    clean, info = corrupt_labels(labels, 1.0, 10, seed=3)
    assert torch.equal(clean, labels) and info["clean_fraction"] == 1.0
    a, _ = corrupt_labels(labels, 0.5, 10, seed=3)
    b, _ = corrupt_labels(labels, 0.5, 10, seed=3)
    c, _ = corrupt_labels(labels, 0.5, 10, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_r_zero_never_keeps_a_label():
    labels = torch.arange(1000) % 10
    noisy, info = corrupt_labels(labels, 0.0, 10, seed=0)
    assert info["clean_fraction"] == 0.0 and int(noisy.min()) >= 0 and int(noisy.max()) <= 9
