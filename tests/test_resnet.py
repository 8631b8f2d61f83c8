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
