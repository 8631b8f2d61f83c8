"""What each benchmark reads and how its pool is made: the dispatch behind fetch_data and build_pool.

    mixmnist    source = MNIST, OoD = notMNIST, ambiguous = VAE mixes (make_ambiguous)
    standin     source = CIFAR-10 (JPEG tar), OoD = Tiny-ImageNet val without CIFAR-10 classes;
                offline only (the mirror's archives): not the paper's benchmark
    mixcifar60  source = CIFAR-100 (python pickles), OoD = LSUN-FIX + SVHN (equal shares)
    folder      your own unlabeled images (folder.images; src/data/folder.py): categories unknown

fetch_data writes data/interim/source.npz (train/test images and labels of the labelled source;
natural benchmarks add `class_names`) and data/interim/ood.npz (`images`; natural benchmarks add
`source` per row and `sets`, the OoD set names in order).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from src.core.config import NATURAL
from src.core.errors import DataError


def _file_entry(path: Path, raw: Path) -> dict:
    from src.data.raw import sha256

    return {"path": str(path.relative_to(raw)) if path.is_relative_to(raw) else str(path),
            "bytes": path.stat().st_size, "sha256": sha256(path)}


def fetch(benchmark: str, raw: Path, data_cfg, folder_cfg=None) -> tuple[dict, dict, dict]:
    """(source arrays, OoD arrays, manifest) of `benchmark` from the raw folder (or a download);
    benchmark folder reads `folder_cfg.images` (and its test folder) instead."""
    raw = Path(raw)
    if benchmark == "folder":
        from src.data.folder import fetch_folder

        return fetch_folder(folder_cfg)
    if benchmark == "mixmnist":
        from src.data.raw import load_mnist, load_notmnist

        mnist, mnist_manifest = load_mnist(raw, data_cfg.source, data_cfg.check_counts)
        notmnist, notmnist_manifest = load_notmnist(raw, data_cfg.source)
        return mnist, notmnist, {"mnist": mnist_manifest, "notmnist": notmnist_manifest}
    if benchmark == "standin":
        return _fetch_standin(raw, data_cfg.source)
    if benchmark == "mixcifar60":
        return _fetch_mixcifar60(raw, data_cfg.source, data_cfg.check_counts)
    raise DataError(f"unknown benchmark {benchmark!r}")


def _ood(sets: list[tuple[str, np.ndarray]], **extra) -> dict:
    return {"images": np.concatenate([images for _, images in sets]),
            "source": np.concatenate([np.full(len(images), name, "<U16") for name, images in sets]),
            "sets": np.asarray([name for name, _ in sets]), **extra}


def _fetch_standin(raw: Path, source: str) -> tuple[dict, dict, dict]:
    from src.data.standin import CIFAR10_TAR, TINY_VAL_TAR, read_cifar10_jpg, read_tiny_imagenet_val, standin_source

    if source == "download":
        raise DataError("benchmark standin reads the offline mirror's archives (cifar10-jpg.tar.gz, "
                        "tiny-imagenet-200-val.tar.gz); it has no download. Set data.source to 'auto' or "
                        "'local', or use benchmark mixcifar60 (the paper's, downloadable) online.")
    missing = [raw / name for name in (CIFAR10_TAR, TINY_VAL_TAR) if not (raw / name).is_file()]
    if missing:
        raise DataError(f"benchmark standin: missing {', '.join(map(str, missing))}. The stand-in is built "
                        f"from an offline mirror's archives: put them under {raw} (e.g. `ln -sfn "
                        f"/path/to/mirror {raw}`), or use benchmark mixcifar60 online.")
    cifar10 = read_cifar10_jpg(raw / CIFAR10_TAR)
    tiny = read_tiny_imagenet_val(raw / TINY_VAL_TAR)
    manifest = {"origin": "local", "files": {"cifar10": _file_entry(raw / CIFAR10_TAR, raw),
                                             "tinyimagenet": _file_entry(raw / TINY_VAL_TAR, raw)},
                "counts": {"cifar10_train": len(cifar10["train_images"]), "cifar10_test": len(cifar10["test_images"]),
                           "tinyimagenet_kept": len(tiny["images"])},
                "tinyimagenet_dropped_wnids": tiny["dropped"]}
    ood = _ood([("tinyimagenet", tiny["images"])], wnids=tiny["wnids"],
               dropped_wnids=np.asarray(sorted(tiny["dropped"])),
               dropped_counts=np.asarray([tiny["dropped"][w] for w in sorted(tiny["dropped"])], np.int64))
    return standin_source(cifar10), ood, manifest


def _fetch_mixcifar60(raw: Path, source: str, check_md5: bool) -> tuple[dict, dict, dict]:
    """Every dataset is tried before failing, so one message names every missing file; with check_md5
    (data.check_counts) CIFAR-100 and SVHN must match their published MD5 checksums."""
    from src.data.natural import CIFAR100_DIR, LSUN_FIX_DIR, LSUN_FIX_NPY, SVHN_DIR, load_cifar100, load_svhn, \
        read_lsun_fix

    loaded, errors = {}, []
    for name, load in (("cifar100", lambda: load_cifar100(raw, source, check_md5)),
                       ("svhn", lambda: load_svhn(raw, source, check_md5=check_md5)),
                       ("lsun_fix", lambda: read_lsun_fix(raw))):
        try:
            loaded[name] = load()
        except DataError as exc:
            errors.append(f"  - {exc}")
    if errors:
        raise DataError("benchmark mixcifar60: the raw data is incomplete:\n" + "\n".join(errors))
    c100 = loaded["cifar100"]
    svhn_images, _ = loaded["svhn"]
    src = {"train_images": c100["train_images"], "train_labels": c100["train_fine"],
           "test_images": c100["test_images"], "test_labels": c100["test_fine"],
           "train_coarse": c100["train_coarse"], "test_coarse": c100["test_coarse"],
           "class_names": np.asarray(c100["fine_names"]), "coarse_names": np.asarray(c100["coarse_names"])}
    ood = _ood([("lsun_fix", loaded["lsun_fix"]), ("svhn", svhn_images)])
    lsun = raw / LSUN_FIX_NPY if (raw / LSUN_FIX_NPY).is_file() else raw / LSUN_FIX_DIR
    files = {"cifar100_" + s: _file_entry(raw / CIFAR100_DIR / s, raw) for s in ("train", "test", "meta")}
    files["svhn_train"] = _file_entry(raw / SVHN_DIR / "train_32x32.mat", raw)
    if lsun.is_file():
        files["lsun_fix"] = _file_entry(lsun, raw)
    manifest = {"origin": source, "files": files,
                "counts": {"cifar100_train": len(src["train_images"]), "cifar100_test": len(src["test_images"]),
                           "svhn_train": len(svhn_images), "lsun_fix": len(loaded["lsun_fix"])}}
    return src, ood, manifest


def make_pool(benchmark: str, source: dict, ood: dict, ambiguous: dict | None, cfg) -> tuple[dict, dict, dict, dict]:
    """(pool, test, val, stats) of `benchmark` from fetch_data's arrays (and make_ambiguous's for
    MixMNIST)."""
    if benchmark == "folder":
        from src.data.folder import build_folder_pool

        pool, test, val, stats = build_folder_pool(source, cfg)
        stats["benchmark"] = benchmark
        return pool, test, val, stats
    if benchmark not in NATURAL:
        from src.data.pool import build_pool

        return build_pool(source, ambiguous, ood, cfg)
    if benchmark == "standin":
        from src.data.standin import build_standin_pool

        dropped = {str(w): int(n) for w, n in zip(ood["dropped_wnids"], ood["dropped_counts"])}
        pool, test, val, stats = build_standin_pool(source, {"images": ood["images"], "dropped": dropped}, cfg)
    else:
        from src.data.natural_pool import build_natural_pool, split_ood

        names = [str(s) for s in ood["sets"]]
        sets = [(n, ood["images"][ood["source"] == n], k) for n, k in zip(names, split_ood(cfg.n_ood, names))]
        pool, test, val, stats = build_natural_pool(source, sets, cfg, "cifar100")
    stats["benchmark"] = benchmark
    return pool, test, val, stats
