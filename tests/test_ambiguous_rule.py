import numpy as np
import pytest
import torch

from src.data.votes import distinct_votes, keep_mask
from src.generate.ambiguous import mix_latents, vote_caption, vote_pattern


def votes_with(n_distinct: int, members: int = 10) -> np.ndarray:
    """One column of `members` votes with exactly n_distinct classes (the first ones repeated)."""
    col = [i % n_distinct for i in range(members)]
    return np.array(col)[:, None]


@pytest.mark.parametrize("n, kept", [(1, False), (2, True), (3, True), (4, False), (10, False)])
def test_two_or_three_distinct_rule(n, kept):
    v = votes_with(n)
    assert distinct_votes(v).tolist() == [n]
    assert keep_mask(v).tolist() == [kept]


def test_rule_columnwise_on_a_batch():
    v = np.concatenate([votes_with(n) for n in (1, 2, 3, 4, 10)], axis=1)
    rng = np.random.default_rng(0)
    v = rng.permuted(v, axis=0)  # order of members must not matter
    assert distinct_votes(v).tolist() == [1, 2, 3, 4, 10]
    assert keep_mask(v).tolist() == [False, True, True, False, False]
    assert keep_mask(v, 1, 1).tolist() == [True, False, False, False, False]


def test_paper_figure2_example():
    col = np.array([0] * 7 + [6] * 2 + [8])
    assert vote_pattern(col) == "7-2-1"
    assert vote_caption(col) == "0:7 6:2 8:1"


def test_latent_mix_arithmetic():
    za = (torch.full((1, 2, 7, 7), 10.0), torch.full((1, 1, 14, 14), -1.0))
    zb = (torch.zeros(1, 2, 7, 7), torch.full((1, 1, 14, 14), 1.0))
    top, bottom = mix_latents(za, zb, 0.7)
    assert torch.allclose(top, torch.full_like(top, 7.0))
    assert torch.allclose(bottom, torch.full_like(bottom, -0.4))
    same = mix_latents(za, za, 0.3)
    assert all(torch.allclose(a, b) for a, b in zip(same, za))
    endpoints = mix_latents(za, zb, 1.0)
    assert all(torch.equal(a, b) for a, b in zip(endpoints, za))
