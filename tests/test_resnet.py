import torch

from src.models.resnet import ResNetClassifier, encoder_dim, resnet_encoder


def test_resnet18_cifar_variant_has_the_known_size():
    """ResNet-18, CIFAR variant, 10 outputs: 11,173,962 parameters (the common CIFAR ResNet-18)."""
    net = ResNetClassifier(10)
    assert sum(p.numel() for p in net.parameters()) == 11_173_962
    assert isinstance(net.features[0], torch.nn.Conv2d) and net.features[0].kernel_size == (3, 3)
    assert not any(isinstance(m, torch.nn.MaxPool2d) for m in net.modules())  # no max-pool in the stem


def test_narrow_shallow_variant_shapes():
    enc = resnet_encoder(8, (1, 1, 1))
    x = torch.randn(4, 3, 32, 32)
    assert enc(x).shape == (4, encoder_dim(8, (1, 1, 1))) == (4, 32)
    net = ResNetClassifier(61, 8, (1, 1, 1)).eval()
    assert net(x).shape == (4, 61)


def test_resnet_training_survives_odd_batch_sizes_in_a_child_process():
    """torch 2.14's CPU backward corrupts the heap for a width-8 ResNet in channels_last at batch
    sizes 3, 5, 7: the project trains the ResNet in the default layout (src/models/nets.py). A
    crash would kill the interpreter, so the training runs in a child process."""
    import subprocess
    import sys
    from pathlib import Path

    code = """
import types, numpy as np
from src.models.supervised import train_classifier
cfg = types.SimpleNamespace(arch="resnet", width=8, blocks=[1, 1, 1, 1], epochs=2, batch_size=5, lr=0.05,
                            weight_decay=0.0, milestones=[], gamma=0.1, grad_clip=None, label_smoothing=0.0,
                            optimizer="sgd", momentum=0.9, augment="crop_flip")
g = np.random.default_rng(0)
x = g.integers(0, 256, (13, 32, 32, 3)).astype(np.uint8)
train_classifier(x, g.integers(0, 7, 13), cfg, 7, 0, "t")
print("trained")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0 and out.stdout.strip() == "trained", (out.returncode, out.stderr[-500:])


def test_memory_format_is_channels_last_only_for_the_three_conv_net():
    import torch

    from src.models.nets import make_classifier, memory_format

    assert memory_format(make_classifier("convnet", 11, 4)) == torch.channels_last
    assert memory_format(make_classifier("resnet", 7, 4, [1])) == torch.contiguous_format
