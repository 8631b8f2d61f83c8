"""DDU: the GDA density, its singular-covariance safeguard, the ranking, spectral norm, the learner."""
import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from sklearn.covariance import LedoitWolf

from src.active.density import class_log_densities, epistemic_uncertainty, fit_gda
from src.active.state import ActiveState
from src.active.strategies import DDU, from_params
from src.core import config
from src.core.errors import ConfigError
from src.models.nets import make_ddu_classifier
from src.models.spectral import largest_singular_values
from tests.conftest import ROOT
from tests.test_config import write

K = 3


def three_classes(n=200, d=3, seed=0):
    g = np.random.default_rng(seed)
    means = np.array([[0, 0, 0], [4, 0, 1], [0, 5, -2]], float)[:, :d]
    labels = np.repeat(np.arange(3), [n, n // 2, n // 4])
    a = g.normal(size=(3, d, d))
    z = np.stack([g.normal(size=d) @ (np.eye(d) + 0.3 * a[c]) + means[c] for c in labels])
    return z, labels


def test_density_matches_scipy_multivariate_normal():
    z, y = three_classes()
    gda = fit_gda(z, y, "jitter")  # plenty of samples: no jitter, the sample covariances themselves
    assert gda.jitter == 0.0 and gda.borrowed == []
    points = np.array([[0.1, -0.2, 0.3], [4, 0, 1], [10, 10, 10], [-3, 2, 0.5]])
    mix = np.zeros(len(points))
    for c in range(3):
        zc = z[y == c]
        prior = len(zc) / len(z)
        logpdf = multivariate_normal(zc.mean(0), np.cov(zc, rowvar=False)).logpdf(points)
        np.testing.assert_allclose(class_log_densities(gda, points)[:, c], np.log(prior) + logpdf, rtol=1e-10)
        mix += prior * np.exp(logpdf)
    np.testing.assert_allclose(epistemic_uncertainty(gda, points), -np.log(mix), rtol=1e-10)


def test_ledoit_wolf_covariances_are_scikit_learns():
    z, y = three_classes(n=40, d=3)
    gda = fit_gda(z, y, "ledoit_wolf")
    for c, chol in zip(gda.classes, gda.chols):
        np.testing.assert_allclose(chol @ chol.T, LedoitWolf().fit(z[y == c]).covariance_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("covariance", ["jitter", "ledoit_wolf"])
def test_singular_covariances_stay_finite(covariance):
    """Fewer samples than dimensions, a constant feature, a class with one sample: the ladder
    makes every covariance factorise and the uncertainty of near and far points stays finite."""
    g = np.random.default_rng(1)
    z = np.zeros((9, 16))
    z[:, :4] = g.normal(size=(9, 4))  # 12 of 16 features constant: rank <= 4
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2])  # class 2 has a single sample
    gda = fit_gda(z, y, covariance)
    assert gda.borrowed == [2]
    if covariance == "jitter":  # the sample covariance is singular: the ladder had to step up
        assert gda.jitter > 0
        with pytest.raises(np.linalg.LinAlgError):
            np.linalg.cholesky(np.cov(z[y == 0], rowvar=False))
    far = np.full((1, 16), 1e3)
    u = epistemic_uncertainty(gda, np.concatenate([z, far, z + 1e-3]))
    assert np.isfinite(u).all()
    assert u[9] > u[:9].max()  # the far point is the least familiar


def test_far_point_ranks_first_and_aux_filter_applies():
    """2-D scene: two labeled classes around (0, 0) and (10, 0); unlabeled points near the means,
    one far away, and one far away that the classifier assigns to the auxiliary class."""
    g = np.random.default_rng(0)
    lab = np.concatenate([g.normal(size=(20, 2)), g.normal(size=(20, 2)) + [10, 0]])
    unl = np.array([[0.1, 0.2], [9.8, -0.1], [0.5, -0.4], [40.0, 40.0], [-30.0, 25.0]])
    emb = np.concatenate([lab, unl])
    n = len(emb)
    probs = np.full((n, K + 1), 0.1)
    probs[:, 0] = 0.7  # argmax an iD class ...
    probs[n - 1] = [0.1, 0.1, 0.1, 0.7]  # ... except the last far point: argmax = K, the aux class
    state = ActiveState.empty(n).with_labels(np.arange(40), np.repeat([0, 1], 20), 40.0, 0)
    order = DDU(num_classes=K).rank(state, {"probs": probs, "embeddings": emb}, np.random.default_rng(0)).order
    assert order[0] == 43  # the far point, first
    assert order[-1] == 44  # the other far point is filtered to the end by the aux class
    assert set(order[1:4]) == {40, 41, 42}


def test_density_classes_id_leaves_the_non_id_gaussian_out():
    """A point next to labeled non-iD samples is familiar when they count (`all`), not with `id`."""
    g = np.random.default_rng(0)
    lab = np.concatenate([g.normal(size=(20, 2)), g.normal(size=(20, 2)) + [10, 0], g.normal(size=(20, 2)) + [0, 20]])
    labels = np.repeat([0, 1, K], 20)  # the third group is labeled non-iD (class K)
    emb = np.concatenate([lab, [[0.0, 20.0], [5.0, 0.0]]])
    probs = np.tile([0.7, 0.1, 0.1, 0.1], (len(emb), 1))
    state = ActiveState.empty(len(emb)).with_labels(np.arange(60), labels, 60.0, 0)
    outputs = {"probs": probs, "embeddings": emb}
    order_all = DDU(num_classes=K, density_classes="all").rank(state, outputs, np.random.default_rng(0)).order
    order_id = DDU(num_classes=K, density_classes="id").rank(state, outputs, np.random.default_rng(0)).order
    assert order_all.tolist() == [61, 60] and order_id.tolist() == [60, 61]


def test_ddu_options_come_from_params_and_are_checked(tmp_path):
    p = config.load(write(tmp_path, lambda d: (d.update(strategy="ddu"),
                                                d["ddu"].update(covariance="jitter", density_classes="id"))))
    s = from_params(p)
    assert isinstance(s, DDU) and (s.covariance, s.density_classes) == ("jitter", "id")
    assert p.ddu.mod is False  # quick MixMNIST: the plain network (a tie on validation, results/tuning-quick)
    assert config.load(ROOT / "configs" / "quick-standin.yaml").ddu.mod is True  # the stand-in: -mod won there
    with pytest.raises(ConfigError, match="ddu.mod: expected true or false"):
        config.load(write(tmp_path, lambda d: d["ddu"].update(mod="leaky")))
    with pytest.raises(ConfigError, match="ddu.covariance"):
        config.load(write(tmp_path, lambda d: d["ddu"].update(covariance="shrunk")))
    with pytest.raises(ConfigError, match="ddu.coeff"):
        config.load(write(tmp_path, lambda d: d["ddu"].update(coeff=0)))
    with pytest.raises(ConfigError, match="ddu.density_classes = 'ood' is not one of all, id"):
        config.load(write(tmp_path, lambda d: d["ddu"].update(density_classes="ood")))


def test_the_covariance_choices_are_the_densitys_estimators():
    """ddu.covariance is checked with params only: its choices are exactly what the density implements."""
    import dataclasses

    from src.active.density import COVARIANCES

    field = {f.name: f for f in dataclasses.fields(config.DDUConfig)}["covariance"]
    assert set(field.metadata["choices"]) == set(COVARIANCES)


@pytest.mark.parametrize("mod", [False, True])
@pytest.mark.parametrize("in_channels, size", [(1, 28), (3, 32)])
def test_spectral_norm_keeps_sigma_at_or_under_the_coefficient(in_channels, size, mod):
    """After SGD steps with a large learning rate, every convolution's exact largest singular value
    (as the network uses it) is at most coeff (power-iteration estimate: 1 % slack), and the bound
    binds: the same training without spectral norm ends above it. With `mod` the shortcut has no
    convolution (its norm: test_pool_pad_shortcut_is_ddus_and_has_norm_at_most_one); its convolutions
    grow less (unnormalised: 0.82 at most), so a lower coeff binds, and its stride-2 convolution moves
    more in the last step, which one power-iteration step per forward lags (1.4 % over on 1x28x28)."""
    coeff, slack = (0.7, 1.02) if mod else (0.8, 1.01)

    def trained(sn: bool):
        torch.manual_seed(0)
        model = make_ddu_classifier(K + 1, 4, [1, 1], in_channels, coeff if sn else 1e9, 1, mod)
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        g = torch.Generator().manual_seed(0)
        for _ in range(8):
            x = torch.randn(16, in_channels, size, size, generator=g)
            loss = torch.nn.functional.cross_entropy(model(x), torch.randint(0, K + 1, (16,), generator=g))
            opt.zero_grad()
            loss.backward()
            opt.step()
        return model

    sigmas = largest_singular_values(trained(sn=True))
    assert len(sigmas) == 6 - mod and max(sigmas) <= coeff * slack  # stem, 2 blocks x 2 convs, 1 shortcut (not mod)
    assert max(sigmas) >= 0.95 * coeff  # at least one layer sits on the bound
    assert max(largest_singular_values(trained(sn=False))) > coeff * 1.05


@pytest.mark.parametrize("mod", [False, True])
def test_ddu_learner_outputs_and_checkpoint(tmp_path, mod):
    from src.models.resnet import PoolPadShortcut
    from tests.test_learners import fit_tiny

    def tiny(d):
        d["strategy"] = "ddu"
        d["classifier"].update(epochs=2, batch_size=8, milestones=[1])
        d["ddu"].update(width=4, blocks=[1, 1], mod=mod)
    learner, images, extra = fit_tiny(tmp_path, tiny)
    assert extra["spectral_norm"]["max_sigma"] <= 3.0 * 1.01 and extra["spectral_norm"]["layers"] == 6 - mod
    assert any(isinstance(m, PoolPadShortcut) for m in learner.classifier.modules()) == mod
    out = learner.pool_outputs(images)
    assert set(out) == {"probs", "embeddings"}
    assert out["probs"].shape == (30, 11) and out["embeddings"].shape == (30, 8)  # width 4 x 2 ** (2 - 1)
    np.testing.assert_allclose(out["probs"], learner.predict_probs(images), rtol=1e-5, atol=1e-6)
    ckpt = torch.load(learner.save(tmp_path / "r00.pt"), weights_only=True)
    assert ckpt["learner"] == "ddu" and ckpt["config"]["ddu"]["coeff"] == 3.0 and ckpt["config"]["ddu"]["mod"] == mod
    assert any(k.endswith("parametrizations.weight.original") for k in ckpt["state_dict"])


# ---------------------------------------------------------------- ddu.mod: DDU's -mod network

def forward_bytes(model, x):
    """Two training forwards (batch statistics, power iteration), then the eval output's bytes."""
    model.train()
    for _ in range(2):
        model(x)
    model.eval()
    with torch.no_grad():
        return model(x).numpy().tobytes()


@pytest.mark.parametrize("in_channels, size", [(1, 28), (3, 32)])
def test_mod_network_is_ddus_modified_resnet(in_channels, size, monkeypatch):
    """ddu.mod true: leaky ReLU (slope 0.01) everywhere and no ReLU (none is called either), every
    downsampling shortcut is the parameter-free average-pool one (no 1x1 convolution, no batch
    norm), the other layers keep their names, the output shape is unchanged, and a seed gives the
    same bytes twice. Four stages on 28x28 reach a 7x7 map, the odd size DDU's shortcut subsamples."""
    from src.models.resnet import BasicBlock, PoolPadShortcut

    blocks = [1, 1, 1, 1]

    def build(mod):
        torch.manual_seed(0)
        return make_ddu_classifier(K + 1, 4, blocks, in_channels, 3.0, 1, mod)

    plain, mod = build(False), build(True)
    leaky = [m for m in mod.modules() if isinstance(m, torch.nn.LeakyReLU)]
    assert len(leaky) == 1 + len(blocks) and all(m.negative_slope == 0.01 for m in leaky)
    assert not any(type(m) is torch.nn.ReLU for m in mod.modules())
    assert all(m.kernel_size == (3, 3) for m in mod.modules() if isinstance(m, torch.nn.Conv2d))
    shortcuts = [b.shortcut for b in mod.modules() if isinstance(b, BasicBlock) and len(b.shortcut)]
    assert len(shortcuts) == len(blocks) - 1 and all(
        len(s) == 1 and isinstance(s[0], PoolPadShortcut) for s in shortcuts)
    assert list(mod.state_dict()) == [k for k in plain.state_dict() if ".shortcut." not in k]

    def no_relu(*args, **kwargs):
        raise AssertionError("ReLU called in the -mod network")

    x = torch.randn(8, in_channels, size, size, generator=torch.Generator().manual_seed(1))
    assert mod(x).shape == plain(x).shape == (8, K + 1)
    monkeypatch.setattr(torch.nn.functional, "relu", no_relu)
    assert forward_bytes(build(True), x) == forward_bytes(build(True), x)


def test_pool_pad_shortcut_is_ddus_and_has_norm_at_most_one():
    """DDU's -mod shortcut: stride x stride average pooling where the stride divides the side, every
    stride-th pixel where it does not (so the shape is the strided 3x3 convolution's), then zero
    channels. Its exact spectral norm (of the Jacobian of the linear map) is 1/2, 1/sqrt(2) or 1 -
    never above an identity shortcut's 1, so the network's bound is the convolutions' alone."""
    from src.models.resnet import PoolPadShortcut

    F = torch.nn.functional
    short, conv = PoolPadShortcut(2, 5, 2), torch.nn.Conv2d(2, 5, 3, 2, 1)
    for (h, w), norm in [((6, 6), 0.5), ((6, 7), 2 ** -0.5), ((7, 7), 1.0)]:
        x = torch.randn(3, 2, h, w, generator=torch.Generator().manual_seed(h + w))
        out = short(x)
        assert out.shape == conv(x).shape
        pooled = F.avg_pool2d(x, (2 if h % 2 == 0 else 1, 2 if w % 2 == 0 else 1), 2)
        assert torch.equal(out[:, :2], pooled) and not out[:, 2:].any()
        if h % 2 and w % 2:
            assert torch.equal(out[:, :2], x[:, :, ::2, ::2])
        jac = torch.autograd.functional.jacobian(lambda v: short(v.reshape(1, 2, h, w)).flatten(),
                                                 torch.zeros(2 * h * w))
        assert float(torch.linalg.matrix_norm(jac.double(), ord=2)) == pytest.approx(norm, rel=1e-6)
    assert torch.equal(PoolPadShortcut(2, 2, 1)(x), x)  # no stride, no new channels: the identity
    with pytest.raises(ValueError, match="cannot narrow"):
        PoolPadShortcut(4, 2, 2)


def plain_forward(model, x):
    """The network as it was before ddu.mod, written out in torch's functional ops on the model's own
    weights (eval mode): stem conv-BN-ReLU; per block conv-BN-ReLU-conv-BN plus the shortcut
    (identity, or a strided 1x1 convolution + BN), then ReLU; global average pool; linear head."""
    F = torch.nn.functional

    def conv(m, h):
        return F.conv2d(h, m.weight, None, m.stride, m.padding)

    def bn(m, h):
        return F.batch_norm(h, m.running_mean, m.running_var, m.weight, m.bias, False, 0.0, m.eps)

    stem_conv, stem_bn, stem_relu, *blocks, pool, flatten = model.features
    assert type(stem_relu) is torch.nn.ReLU and isinstance(pool, torch.nn.AdaptiveAvgPool2d)
    h = F.relu(bn(stem_bn, conv(stem_conv, x)))
    for b in blocks:
        out = bn(b.bn2, conv(b.conv2, F.relu(bn(b.bn1, conv(b.conv1, h)))))
        if len(b.shortcut):
            s_conv, s_bn = b.shortcut
            assert s_conv.kernel_size == (1, 1) and s_conv.stride == (2, 2)
            h = F.relu(out + bn(s_bn, conv(s_conv, h)))
        else:
            h = F.relu(out + h)
    return F.linear(flatten(F.adaptive_avg_pool2d(h, 1)), model.head.weight, model.head.bias)


def test_mod_false_is_todays_network():
    """ddu.mod false (every profile) builds the network DDU ran before the key existed: the same
    state-dict keys (spelled out), no leaky ReLU, and the same output bytes as that network written
    out by hand (plain_forward) - so earlier results stay byte-identical."""
    from src.models.resnet import PoolPadShortcut

    def sn(name):
        return [f"{name}.parametrizations.weight.{k}" for k in ("original", "0._u", "0._v")]

    def bn(name):
        return [f"{name}.{k}" for k in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")]

    def block(name, shortcut):
        keys = sn(f"{name}.conv1") + bn(f"{name}.bn1") + sn(f"{name}.conv2") + bn(f"{name}.bn2")
        return keys + (sn(f"{name}.shortcut.0") + bn(f"{name}.shortcut.1") if shortcut else [])

    torch.manual_seed(0)
    model = make_ddu_classifier(K + 1, 4, [1, 1, 1], 1, 3.0, 1, False)
    torch.manual_seed(0)
    default = make_ddu_classifier(K + 1, 4, [1, 1, 1], 1, 3.0, 1)  # callers that predate `mod`
    assert list(model.state_dict()) == (sn("features.0") + bn("features.1") + block("features.3", False)
                                        + block("features.4", True) + block("features.5", True)
                                        + ["head.weight", "head.bias"])
    assert not any(isinstance(m, (torch.nn.LeakyReLU, PoolPadShortcut)) for m in model.modules())
    x = torch.randn(6, 1, 28, 28, generator=torch.Generator().manual_seed(2))
    assert forward_bytes(model, x) == forward_bytes(default, x)
    with torch.no_grad():
        assert model(x).numpy().tobytes() == plain_forward(model, x).numpy().tobytes()
