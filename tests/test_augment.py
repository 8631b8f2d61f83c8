import pytest
import torch

from src.models.augment import mnist_affine, simclr_cifar


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("fn, shape", [(mnist_affine, (16, 1, 28, 28)), (simclr_cifar, (16, 3, 32, 32))])
def test_deterministic_ranged_and_varied(fn, shape):
    x = torch.rand(shape, generator=gen(0))
    a, b, c = fn(x, gen(1)), fn(x, gen(1)), fn(x, gen(2))
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1
    per_sample = (a - x).abs().flatten(1).mean(1)
    assert (per_sample > 1e-4).all()  # every sample is transformed
    assert not torch.allclose(a[0] - x[0], a[1] - x[1])  # with its own parameters


def test_mnist_identity_parameters_leave_images_unchanged():
    x = torch.rand(4, 1, 28, 28, generator=gen(3))
    out = mnist_affine(x, gen(4), degrees=0.0, shear=0.0, scale=(1.0, 1.0))
    assert torch.allclose(out, x, atol=1e-5)


def test_mnist_translation_moves_the_content_within_the_range_and_zero_draws_nothing():
    x = torch.zeros(256, 1, 28, 28)
    x[:, 0, 12:16, 12:16] = 1.0  # a centred square
    grid = torch.arange(28.0)

    def centre(img):  # (B, 2) centre of mass: column (x), row (y)
        mass = img.sum((1, 2, 3))
        return torch.stack([(img.sum(2)[:, 0] * grid).sum(1) / mass, (img.sum(3)[:, 0] * grid).sum(1) / mass], 1)

    out = mnist_affine(x, gen(9), degrees=0.0, shear=0.0, scale=(1.0, 1.0), translate=0.25)
    shift = centre(out) - centre(x)
    assert shift.abs().max() <= 0.25 * 28 + 0.5  # at most a quarter of the image, either axis
    assert shift[:, 0].abs().max() > 4 and shift[:, 1].abs().max() > 4  # and it does move, both ways
    assert shift[:, 0].min() < -2 < 2 < shift[:, 0].max()
    assert torch.allclose(out.sum((1, 2, 3)), x.sum((1, 2, 3)), atol=1e-3)  # moved, not cropped
    # translate 0: the same images and the same generator state as before the option existed
    g1, g2 = gen(10), gen(10)
    y = torch.rand(8, 1, 28, 28, generator=gen(11))
    assert torch.equal(mnist_affine(y, g1), mnist_affine(y, g2, translate=0.0))
    assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))


def test_mnist_large_rotation_keeps_a_central_dot_inside_the_frame():
    x = torch.zeros(1, 1, 28, 28)
    x[0, 0, 5, 14] = 1.0  # a dot above the centre
    out = mnist_affine(x, gen(0), degrees=90.0, shear=0.0, scale=(1.0, 1.0))  # angle in [-90, 90]
    assert out.sum().item() == pytest.approx(1.0, abs=1e-3)  # mass preserved, not cropped


def test_cifar_full_crop_no_jitter_no_grey_is_identity_or_flip():
    x = torch.rand(8, 3, 32, 32, generator=gen(5))
    out = simclr_cifar(x, gen(6), crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), jitter=(0, 0, 0, 0), p_jitter=0.0, p_grey=0.0)
    for i in range(8):
        assert torch.allclose(out[i], x[i], atol=1e-4) or torch.allclose(out[i], x[i].flip(-1), atol=1e-4)


def test_cifar_grey_gives_equal_channels():
    x = torch.rand(4, 3, 32, 32, generator=gen(7))
    out = simclr_cifar(x, gen(8), p_grey=1.0)
    assert torch.allclose(out[:, 0], out[:, 1]) and torch.allclose(out[:, 1], out[:, 2])


def test_bad_shapes():
    with pytest.raises(ValueError):
        mnist_affine(torch.rand(28, 28), gen(0))
    with pytest.raises(ValueError):
        simclr_cifar(torch.rand(2, 1, 32, 32), gen(0))


def test_crop_flip_is_a_shifted_window_of_the_zero_padded_image_or_its_mirror():
    from src.models.augment import crop_flip

    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 3, 8, 8)
    out = crop_flip(x, g, pad=2)
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x, (2, 2, 2, 2))
    kinds = set()
    for i in range(len(x)):
        windows = {(dy, dx, f): padded[i, :, dy:dy + 8, dx:dx + 8].flip(-1) if f else padded[i, :, dy:dy + 8, dx:dx + 8]
                   for dy in range(5) for dx in range(5) for f in (0, 1)}
        match = [k for k, w in windows.items() if torch.equal(w, out[i])]
        assert match, i  # every output is one crop of the padded image, flipped or not
        kinds.add(match[0])
    assert len(kinds) > 10 and {k[2] for k in kinds} == {0, 1}  # offsets and flips vary per sample
    again = crop_flip(x, torch.Generator().manual_seed(0), pad=2)
    assert torch.equal(again, out)  # the generator fixes the draw


def test_two_views_by_augment_kind():
    import types

    from src.contrastive.train import two_views

    g = torch.Generator().manual_seed(0)
    rgb = torch.randint(0, 256, (4, 32, 32, 3), dtype=torch.uint8)
    v = two_views(rgb, types.SimpleNamespace(augment="simclr"), g)
    assert v.shape == (8, 3, 32, 32) and torch.isfinite(v).all() and not torch.equal(v[:4], v[4:])
    grey = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8)
    cfg = types.SimpleNamespace(augment="affine", rotation=15.0, shear=10.0, scale=[0.9, 1.1], translate=0.0)
    assert two_views(grey, cfg, g).shape == (8, 1, 28, 28)


def test_rgb_inputs_are_cifar_normalised_per_channel():
    import numpy as np

    from src.models.inputs import CIFAR_MEAN, CIFAR_STD, to_input

    img = np.zeros((1, 2, 2, 3), np.uint8)
    img[..., 0], img[..., 1], img[..., 2] = 255, 128, 0
    x = to_input(img)
    assert x.shape == (1, 3, 2, 2)
    expected = [(1.0 - CIFAR_MEAN[0]) / CIFAR_STD[0], (128 / 255 - CIFAR_MEAN[1]) / CIFAR_STD[1],
                (0.0 - CIFAR_MEAN[2]) / CIFAR_STD[2]]
    assert torch.allclose(x[0, :, 0, 0], torch.tensor(expected), atol=1e-6)
