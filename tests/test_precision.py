"""The precision setting (src/core/precision.py): what `auto` resolves to, bf16 autocast where the
networks compute and fp32 where the math needs it, and the same bytes twice in bf16."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import yaml

from src.core import config, precision
from src.core.config import ContrastiveConfig, ClassifierConfig
from src.core.errors import ConfigError
from tests.conftest import ROOT

AMX = "processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 amx_bf16 amx_tile\n"
AVX512_BF16 = "processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16\n"
PLAIN = "processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f\n"


@pytest.fixture
def setting():
    """Restores the process-wide precision after a test."""
    before = precision.current()
    yield precision._current
    precision._current[0] = before


@pytest.mark.parametrize("cpuinfo, device, expected", [
    (AMX, "cpu", "bf16"), (AVX512_BF16, "cpu", "bf16"), (PLAIN, "cpu", "fp32"), (PLAIN, "cuda", "bf16"),
    ("", "cpu", "fp32"), (PLAIN, "mps", "fp32"),
])
def test_auto_is_bf16_on_cuda_and_on_cpus_with_bf16_units(cpuinfo, device, expected):
    assert precision.resolve("auto", device, cpuinfo) == expected
    assert precision.resolve("fp32", device, cpuinfo) == "fp32" and precision.resolve("bf16", device, cpuinfo) == "bf16"


def test_flags_are_read_from_the_flags_line():
    assert precision.cpu_bf16_flags(AMX) == ["amx_bf16", "avx512_bf16"] and precision.cpu_bf16_flags(PLAIN) == []
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, auto"):
        precision.resolve("fp16", "cpu", PLAIN)


def test_fp32_has_no_autocast_and_bf16_computes_in_bf16(setting):
    conv = torch.nn.Conv2d(1, 4, 3)
    x = torch.randn(2, 1, 8, 8)
    setting[0] = "fp32"
    with precision.autocast(torch.device("cpu")):
        assert conv(x).dtype == torch.float32 and not torch.is_autocast_enabled("cpu")
    setting[0] = "bf16"
    with precision.autocast(torch.device("cpu")):
        assert conv(x).dtype == torch.bfloat16
    assert conv.weight.dtype == torch.float32  # master weights stay fp32


def contrastive_cfg() -> ContrastiveConfig:
    p = yaml.safe_load((ROOT / "params.yaml").read_text())["contrastive"]
    p.update(width=8, proj_dim=8, batch_size=32, labeled_batch_size=8, eval_batch_size=64)
    return ContrastiveConfig(**p)


def train_tiny(setting, which: str) -> bytes:
    """A few contrastive steps (unlabeled + labeled) and a classifier epoch on random digits-like
    images; the bytes of both trained networks."""
    from src.contrastive.train import train_contrastive
    from src.models.representation import classifier_from, extract_features, new_representation
    from src.models.supervised import predict_probs, train_classifier

    setting[0] = which
    g = np.random.default_rng(0)
    images = g.integers(0, 256, (96, 28, 28), dtype=np.uint8)
    labels = g.integers(0, 11, 96)
    cfg = contrastive_cfg()
    rep = new_representation(cfg, "test")
    summary = train_contrastive(rep, images[:64], images[64:], labels[64:], cfg, 1.0, 3, "test")
    assert np.isfinite(summary["loss_last"])
    feats = extract_features(rep, images, 64, "projection")
    assert feats.dtype == np.float32 and np.allclose(np.linalg.norm(feats, axis=1), 1, atol=1e-5)
    ccfg = yaml.safe_load((ROOT / "params.yaml").read_text())["cl_classifier"]
    ccfg.update(epochs=1, batch_size=16)
    net = train_classifier(images, labels, config._build(config.CLClassifierConfig, ccfg, "cl_classifier"), 11, 3,
                           "test", make_model=lambda: classifier_from(rep, 11))
    probs = predict_probs(net, images, 64)
    assert probs.dtype == np.float32 and np.allclose(probs.sum(1), 1, atol=1e-5)
    buf = io.BytesIO()
    torch.save({"rep": rep.state_dict(), "net": net.state_dict(), "feats": feats, "probs": probs}, buf)
    return buf.getvalue()


def test_bf16_training_gives_the_same_bytes_twice_and_differs_from_fp32(setting):
    first, second = train_tiny(setting, "bf16"), train_tiny(setting, "bf16")
    assert first == second
    assert train_tiny(setting, "fp32") != first  # autocast did change the arithmetic


def test_the_param_takes_fp32_bf16_auto_and_explains_the_rest(tmp_path):
    text = (ROOT / "params.yaml").read_text()
    assert config.load(ROOT / "params.yaml").precision == "bf16"  # quick MixMNIST: width 32, chosen on validation
    assert config.load(ROOT / "configs" / "quick-standin.yaml").precision == "fp32"
    for profile in ("paper-mixmnist", "paper-mixcifar60"):
        assert config.load(ROOT / "configs" / f"{profile}.yaml").precision == "auto"
    for value, fragment in (("fp16", "precision = 'fp16' is not one of fp32, bf16, auto"),
                            ("no", "expected a string, got the boolean false")):
        path = tmp_path / "params.yaml"
        path.write_text(text.replace("precision: bf16", f"precision: {value}", 1))
        with pytest.raises(ConfigError, match=fragment):
            config.load(path)


def test_the_gpu_slice_extrapolates_from_a_middle_round_and_scales_batches_on_cpu():
    from bench.gpu_slice import round_sizes, scaled

    p = config.load(ROOT / "configs" / "paper-mixmnist.yaml")
    sizes = round_sizes(p.active, 20)  # 100 iD at stage 0, +10 per round, 20 rounds
    assert sizes["labeled_id_middle"] == 200 and sizes["train_middle"] == 220  # + non-iD capped at 1.0 * 200 / 10
    small = scaled(p, 1 / 32)
    assert (small.contrastive.batch_size, small.contrastive.labeled_batch_size, small.classifier.batch_size) == (32, 8, 8)
    assert scaled(p, 1) is p and small.contrastive.width == p.contrastive.width  # only batch sizes change


def test_the_generators_and_ddu_train_in_bf16_with_fp32_statistics(setting):
    """The VAE (its Gaussians and KL in fp32), an ensemble member and DDU's spectrally normalised
    network (its power iteration in fp32) train in bf16 to finite losses; fp32 weights throughout."""
    from src.core.config import EnsembleConfig, VAEConfig
    from src.generate.classifiers import predict, train_member
    from src.generate.vae_training import evaluate_elbo, train_vae
    from src.models.nets import make_ddu_classifier
    from src.models.spectral import largest_singular_values

    setting[0] = "bf16"
    g = np.random.default_rng(1)
    digits = g.integers(0, 256, (48, 28, 28), dtype=np.uint8)
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    vcfg = VAEConfig(**{**p["vae"], "channels": 4, "z_top": 2, "z_bottom": 2, "epochs": 1, "batch_size": 16,
                        "train_subset": None})
    vae, info = train_vae(digits, vcfg)
    assert np.isfinite(info["train_loss_per_epoch"]).all() and np.isfinite(evaluate_elbo(vae, digits, 0)["test_neg_elbo_nats"])
    assert all(w.dtype == torch.float32 for w in vae.parameters())
    ecfg = EnsembleConfig(**{**p["ensemble"], "epochs": 1, "batch_size": 16, "train_subset": None})
    member = train_member("cnn", digits, g.integers(0, 10, 48), ecfg, 0)
    assert predict([member], digits).shape == (1, 48)
    ddu = make_ddu_classifier(11, 4, [1, 1, 1, 1], 1, 3.0, 1).train()
    with precision.autocast(torch.device("cpu")):
        out = ddu(torch.randn(8, 1, 28, 28))
    assert out.dtype == torch.bfloat16
    torch.nn.functional.cross_entropy(out.float(), torch.zeros(8, dtype=torch.long)).backward()
    assert max(largest_singular_values(ddu)) <= 3.0 * 1.01
