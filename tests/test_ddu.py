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


@pytest.mark.parametrize("in_channels, size", [(1, 28), (3, 32)])
def test_spectral_norm_keeps_sigma_at_or_under_the_coefficient(in_channels, size):
    """After SGD steps with a large learning rate, every convolution's exact largest singular value
    (as the network uses it) is at most coeff (power-iteration estimate: 1 % slack), and the bound
    binds: the same training without spectral norm ends above it."""
    coeff = 0.8

    def trained(sn: bool):
        torch.manual_seed(0)
        model = make_ddu_classifier(K + 1, 4, [1, 1], in_channels, coeff if sn else 1e9, 1)
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
    assert len(sigmas) == 6 and max(sigmas) <= coeff * 1.01  # stem, 2 blocks x 2 convs, 1 shortcut
    assert max(sigmas) >= 0.95 * coeff  # at least one layer sits on the bound
    assert max(largest_singular_values(trained(sn=False))) > coeff * 1.05


def test_ddu_learner_outputs_and_checkpoint(tmp_path):
    from tests.test_learners import fit_tiny

    def tiny(d):
        d["strategy"] = "ddu"
        d["classifier"].update(epochs=2, batch_size=8, milestones=[1])
        d["ddu"].update(width=4, blocks=[1, 1])
    learner, images, extra = fit_tiny(tmp_path, tiny)
    assert extra["spectral_norm"]["max_sigma"] <= 3.0 * 1.01 and extra["spectral_norm"]["layers"] == 6
    out = learner.pool_outputs(images)
    assert set(out) == {"probs", "embeddings"}
    assert out["probs"].shape == (30, 11) and out["embeddings"].shape == (30, 8)  # width 4 x 2 ** (2 - 1)
    np.testing.assert_allclose(out["probs"], learner.predict_probs(images), rtol=1e-5, atol=1e-6)
    ckpt = torch.load(learner.save(tmp_path / "r00.pt"), weights_only=True)
    assert ckpt["learner"] == "ddu" and ckpt["config"]["ddu"]["coeff"] == 3.0
    assert any(k.endswith("parametrizations.weight.original") for k in ckpt["state_dict"])
