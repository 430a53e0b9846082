"""Models at tiny scale: shapes, finiteness, the rule decoding against the exact templates,
and a CPU run that overfits one small batch."""
from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from xrdfast import ExtinctionGroup  # noqa: E402
from xrdfast.ml.model import ModelConfig, PhysicsViT, ResNet1d, plain_transformer_config, rule_scores, rule_templates  # noqa: E402

TINY = dict(d_model=32, depth=2, heads=2, dropout=0.0)


def batch(n: int = 4, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    egs = torch.randint(1, 100, (n,), generator=g)
    bits = torch.stack([torch.as_tensor(ExtinctionGroup(int(e)).rule_bits) for e in egs])
    # sparse "patterns": a few unit peaks at random positions, distinct per sample
    x = torch.zeros(n, 8501)
    x.scatter_(1, torch.randint(0, 8501, (n, 30), generator=g), 1.0)
    return x, {"extinction_group": egs, "rule_bits": bits}


@pytest.mark.parametrize("make", [lambda: PhysicsViT(ModelConfig(**TINY)), lambda: PhysicsViT(plain_transformer_config(**TINY)),
                                  lambda: ResNet1d(ModelConfig(), width=8)])
def test_forward_shapes_and_finite(make):
    model = make()
    x, y = batch()
    out, loss = model(x, y)
    assert out["direct"].shape == (4, 99) and out["rule_scores"].shape == (4, 99)
    assert out["system"].shape == (4, 7) and out["lattice"].shape == (4, 5) and out["operators"].shape == (4, 25)
    assert torch.isfinite(loss) and all(torch.isfinite(v).all() for v in out.values())
    assert torch.allclose(out["probabilities"].sum(-1), torch.ones(4), atol=1e-5)


def test_paper_configuration_size_and_patches():
    model = PhysicsViT(ModelConfig())
    assert model.n_patches == 341
    n = sum(p.numel() for p in model.parameters())
    assert 0.8e6 < n < 1.0e6  # the paper's released real-data ViT: ~0.88 M


def test_rule_decoding_recovers_every_group_from_its_template():
    t = rule_templates()
    assert t.shape == (99, 37) and len({tuple(r.tolist()) for r in t}) == 99
    confident = {"system": 20 * (2 * t[:, :7] - 1), "lattice": 20 * (2 * t[:, 7:12] - 1),
                 "operators": 20 * (2 * t[:, 12:] - 1)}
    assert torch.equal(rule_scores(confident, t).argmax(-1), torch.arange(99))


def test_overfits_one_small_batch_on_cpu():
    torch.manual_seed(0)
    model = PhysicsViT(ModelConfig(**TINY))
    x, y = batch(8, seed=1)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = None
    for _ in range(350):
        _, loss = model(x, y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        first = first if first is not None else loss.item()
    out, loss = model(x, y)
    assert loss.item() < 0.1 * first
    assert torch.equal(out["probabilities"].argmax(-1) + 1, y["extinction_group"])


def test_positive_weight_bias_is_removed_before_decoding():
    """Weighted BCE on a bit that is 1 with frequency p is minimised at logit(p) + log w;
    decoding subtracts log w, so the decoded bit probability is p again."""
    import torch.nn.functional as F

    p, w = 0.2, torch.tensor([9.0])
    z = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([z], max_iter=100)
    targets = torch.tensor([1.0] * 2 + [0.0] * 8)  # frequency 0.2

    def closure():
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(z.expand(10), targets, pos_weight=w)
        loss.backward()
        return loss

    optimizer.step(closure)
    z = z.detach()
    assert float(z) == pytest.approx(math.log(p / (1 - p)) + math.log(9.0), abs=1e-3)
    t = rule_templates()
    out = {"system": torch.zeros(1, 7), "lattice": torch.zeros(1, 5), "operators": torch.full((1, 25), float(z))}
    weights = torch.full((25,), 9.0)
    corrected = rule_scores(out, t, weights) - rule_scores({**out, "operators": out["operators"] - math.log(9.0)}, t)
    assert torch.allclose(corrected, torch.zeros_like(corrected), atol=1e-5)
