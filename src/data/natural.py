"""Raw natural-image datasets of MixCIFAR60, read in the formats they are distributed in.

Local layout under a raw folder (that of torchvision's downloaders, so a download lands there):
    cifar-100-python/{train,test,meta}          CIFAR-100 pickles: data (N, 3072) uint8 in CHW
                                                order, fine_labels, coarse_labels; meta holds the
                                                fine and coarse label names
    SVHN/{train,test}_32x32.mat                 SVHN as MATLAB v5: X (32, 32, 3, N) uint8, y (N, 1)
                                                with labels 1..10 (10 is the digit 0)
    LSUN_fix/ (a folder of 32x32 images, nested folders allowed: PNG/JPEG) or LSUN_fix.npy
                                                (N, 32, 32, 3) uint8 - LSUN-FIX as distributed
                                                by the CSI authors (Tack et al., 2020)
Every loader returns images as uint8 (N, 32, 32, 3). Offline, a missing dataset is a DataError that
names every missing file and both ways to provide it. The CIFAR-100 pickles are read by
src/data/safe_pickle.py's restricted unpickler (plain containers and NumPy arrays only: a pickle
that names any other global is refused before it can run code). With data.check_counts (the
default) the CIFAR-100 and SVHN files must also match their published MD5 checksums (OFFICIAL_MD5),
verified before any parsing; set it to false for a custom or modified copy.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from src.core.errors import DataError, excerpt
from src.core.log import log
from src.data import safe_pickle

CIFAR100_DIR = "cifar-100-python"
SVHN_DIR = "SVHN"
LSUN_FIX_DIR, LSUN_FIX_NPY = "LSUN_fix", "LSUN_fix.npy"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")

# The published MD5 of every official file, relative to the raw folder; copied from torchvision's
# own source (torchvision/datasets/cifar.py: CIFAR100.train_list / test_list / meta, and
# torchvision/datasets/svhn.py: SVHN.split_list), the checksums its downloaders verify.
OFFICIAL_MD5 = {
    f"{CIFAR100_DIR}/train": "16019d7e3df5f24257cddd939b257f8d",
    f"{CIFAR100_DIR}/test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
    f"{CIFAR100_DIR}/meta": "7973b15100ade9c7d40fb424638fde48",
    f"{SVHN_DIR}/train_32x32.mat": "e26dedcc434d2e4c54c9b2d4a06d8373",
    f"{SVHN_DIR}/test_32x32.mat": "eb5a983be6a315427106f1b164d9cef3",
    f"{SVHN_DIR}/extra_32x32.mat": "a93ce644f1a588dc4d68dda5feec44a7",
}

PROVIDE = ("Provide it in one of two ways: (1) online: set data.source to 'auto' or 'download' "
           "(CIFAR-100 and SVHN come through torchvision's downloaders; LSUN-FIX has none: get "
           "LSUN_fix from the CSI repository, github.com/alinlab/CSI); (2) offline: put the files "
           "under {raw} in the layout of src/data/natural.py (e.g. `ln -sfn /path/to/mirror {raw}`).")


def _missing(raw: Path, files: list[Path], what: str) -> DataError:
    names = ", ".join(str(f) for f in files)
    return DataError(f"{what}: missing {names}. " + PROVIDE.format(raw=raw))


def md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)  # the published checksums are MD5: a match check, not a signature
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_official(raw: Path, name: str) -> None:
    """raw/name must have its published MD5 (OFFICIAL_MD5[name]); checked before the file is parsed."""
    path, expected = Path(raw) / name, OFFICIAL_MD5[name]
    found = md5(path)
    if found != expected:
        raise DataError(f"{path}: md5 {found}, but the official {name} has md5 {expected} (the checksum "
                        f"torchvision verifies); it is not the official file, so it was not read. Replace it "
                        f"with the official file (e.g. delete it and run with data.source: download), or set "
                        f"data.check_counts: false to use a custom or modified copy.")


def _hwc(images: np.ndarray, where) -> np.ndarray:
    if images.ndim != 4 or images.shape[1:] != (32, 32, 3) or images.dtype != np.uint8:
        raise DataError(f"{where}: expected uint8 images (N, 32, 32, 3), got {images.dtype} {images.shape}.")
    return np.ascontiguousarray(images)


# ---------------------------------------------------------------- CIFAR-100
# The 20 superclasses (coarse labels) of CIFAR-100 and their 5 fine classes each, in label order.
CIFAR100_SUPERCLASSES = {
    "aquatic_mammals": ("beaver", "dolphin", "otter", "seal", "whale"),
    "fish": ("aquarium_fish", "flatfish", "ray", "shark", "trout"),
    "flowers": ("orchid", "poppy", "rose", "sunflower", "tulip"),
    "food_containers": ("bottle", "bowl", "can", "cup", "plate"),
    "fruit_and_vegetables": ("apple", "mushroom", "orange", "pear", "sweet_pepper"),
    "household_electrical_devices": ("clock", "keyboard", "lamp", "telephone", "television"),
    "household_furniture": ("bed", "chair", "couch", "table", "wardrobe"),
    "insects": ("bee", "beetle", "butterfly", "caterpillar", "cockroach"),
    "large_carnivores": ("bear", "leopard", "lion", "tiger", "wolf"),
    "large_man-made_outdoor_things": ("bridge", "castle", "house", "road", "skyscraper"),
    "large_natural_outdoor_scenes": ("cloud", "forest", "mountain", "plain", "sea"),
    "large_omnivores_and_herbivores": ("camel", "cattle", "chimpanzee", "elephant", "kangaroo"),
    "medium_mammals": ("fox", "porcupine", "possum", "raccoon", "skunk"),
    "non-insect_invertebrates": ("crab", "lobster", "snail", "spider", "worm"),
    "people": ("baby", "boy", "girl", "man", "woman"),
    "reptiles": ("crocodile", "dinosaur", "lizard", "snake", "turtle"),
    "small_mammals": ("hamster", "mouse", "rabbit", "shrew", "squirrel"),
    "trees": ("maple_tree", "oak_tree", "palm_tree", "pine_tree", "willow_tree"),
    "vehicles_1": ("bicycle", "bus", "motorcycle", "pickup_truck", "train"),
    "vehicles_2": ("lawn_mower", "rocket", "streetcar", "tank", "tractor"),
}


def superclass_split(n_id: int = 3) -> tuple[list[str], list[str]]:
    """The rule that fills MixCIFAR60's class lists (the seed paper does not print the split of Kim,
    Koo & Hwang 2021): in every superclass, the first `n_id` fine classes in label (= alphabetical)
    order are iD (CIFAR60) and the others ambiguous (CIFAR40). Superclasses in label order."""
    id_classes = [f for fines in CIFAR100_SUPERCLASSES.values() for f in fines[:n_id]]
    ambiguous = [f for fines in CIFAR100_SUPERCLASSES.values() for f in fines[n_id:]]
    return id_classes, ambiguous


def check_superclasses(fine_names: list[str], coarse_names: list[str], fine: np.ndarray, coarse: np.ndarray,
                       where) -> None:
    """The data's own fine -> coarse mapping must be CIFAR100_SUPERCLASSES (a relabelled or foreign
    file would otherwise split the classes silently wrong)."""
    for c_code, c_name in enumerate(coarse_names):
        members = sorted({fine_names[f] for f in np.unique(fine[coarse == c_code])})
        expected = sorted(CIFAR100_SUPERCLASSES.get(c_name, ()))
        if not set(members) <= set(expected):
            raise DataError(f"{where}: superclass {excerpt(c_name)} holds {excerpt(', '.join(members), 120)}; "
                            f"CIFAR-100's holds {', '.join(expected) or 'nothing of that name'}. Replace the file "
                            f"with the official one.")


def _unpickle(path: Path) -> dict:
    d = safe_pickle.load(path, "CIFAR-100")
    if not isinstance(d, dict):
        raise DataError(f"{path}: expected a pickled dict, got {type(d).__name__}.")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in d.items()}


def _names(values) -> list[str]:
    return [v.decode("latin1") if isinstance(v, bytes) else str(v) for v in values]


def read_cifar100(raw: Path, check_md5: bool = True) -> dict:
    """{split}_images (N, 32, 32, 3) uint8, {split}_fine / {split}_coarse int64, fine_names,
    coarse_names - from raw/cifar-100-python/{train,test,meta}; with check_md5 (data.check_counts)
    every file must first match its published MD5."""
    folder = Path(raw) / CIFAR100_DIR
    files = {name: folder / name for name in ("train", "test", "meta")}
    missing = [f for f in files.values() if not f.is_file()]
    if missing:
        raise _missing(Path(raw), missing, "CIFAR-100")
    if check_md5:
        for name in files:
            check_official(raw, f"{CIFAR100_DIR}/{name}")
    out = {}
    for split in ("train", "test"):
        d = _unpickle(files[split])
        absent = [k for k in ("data", "fine_labels", "coarse_labels") if k not in d]
        if absent:
            raise DataError(f"{files[split]}: no {', '.join(absent)} (keys: {excerpt(', '.join(map(str, d)), 120)}).")
        data = np.asarray(d["data"], dtype=np.uint8)
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise DataError(f"{files[split]}: 'data' must be (N, 3072), is {data.shape}.")
        fine, coarse = np.asarray(d["fine_labels"], np.int64), np.asarray(d["coarse_labels"], np.int64)
        if not len(fine) == len(coarse) == len(data):
            raise DataError(f"{files[split]}: {len(data)} images but {len(fine)} fine / {len(coarse)} coarse labels.")
        if len(fine) and (fine.min() < 0 or fine.max() > 99 or coarse.min() < 0 or coarse.max() > 19):
            raise DataError(f"{files[split]}: labels out of range (fine 0..99, coarse 0..19).")
        out[f"{split}_images"] = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy()
        out[f"{split}_fine"], out[f"{split}_coarse"] = fine, coarse
    meta = _unpickle(files["meta"])
    out["fine_names"] = _names(meta.get("fine_label_names", []))
    out["coarse_names"] = _names(meta.get("coarse_label_names", []))
    if len(out["fine_names"]) != 100 or len(out["coarse_names"]) != 20:
        raise DataError(f"{files['meta']}: expected 100 fine and 20 coarse label names, got "
                        f"{len(out['fine_names'])} and {len(out['coarse_names'])}.")
    check_superclasses(out["fine_names"], out["coarse_names"], out["train_fine"], out["train_coarse"], files["train"])
    return out


def load_cifar100(raw: Path, source: str, check_md5: bool = True) -> dict:
    raw = Path(raw)
    if source == "download" or (source == "auto" and not (raw / CIFAR100_DIR / "meta").is_file()):
        from torchvision.datasets import CIFAR100

        try:
            log(f"downloading CIFAR-100 into {raw} with torchvision")
            for train in (True, False):
                CIFAR100(root=str(raw), train=train, download=True)
        except Exception as exc:  # noqa: BLE001 - any network/permission failure
            raise _missing(raw, [raw / CIFAR100_DIR], f"CIFAR-100 (download failed: {exc!s:.200})") from None
    return read_cifar100(raw, check_md5)


# ---------------------------------------------------------------- SVHN
def read_svhn(raw: Path, split: str, check_md5: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 32, 32, 3) uint8, digits 0..9) from raw/SVHN/{split}_32x32.mat (label 10 -> 0);
    with check_md5 (data.check_counts) the file must first match its published MD5."""
    from scipy.io import loadmat  # SVHN's .mat files are MATLAB v5: scipy reads them (as torchvision)

    path = Path(raw) / SVHN_DIR / f"{split}_32x32.mat"
    if not path.is_file():
        raise _missing(Path(raw), [path], "SVHN")
    if check_md5:
        check_official(raw, f"{SVHN_DIR}/{split}_32x32.mat")
    from scipy.io.matlab import MatReadError

    try:
        mat = loadmat(path)
    except NotImplementedError:
        raise DataError(f"{path}: a MATLAB v7.3 (HDF5) file; SVHN's official {split}_32x32.mat is MATLAB v5. "
                        f"Replace it with the official file.") from None
    except (MatReadError, OSError, ValueError, TypeError, EOFError) as exc:
        raise DataError(f"{path}: not a readable MATLAB file ({excerpt(exc, 80)}). Replace it with the official "
                        f"{split}_32x32.mat.") from None
    if "X" not in mat or "y" not in mat:
        found = ", ".join(k for k in mat if not k.startswith("__"))
        raise DataError(f"{path}: expected variables X and y, found {excerpt(found, 120) if found else 'none'}.")
    x, y = mat["X"], np.asarray(mat["y"]).reshape(-1).astype(np.int64)
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.shape[3] != len(y):
        raise DataError(f"{path}: X must be (32, 32, 3, N) with N = len(y) = {len(y)}, is {x.shape}.")
    if len(y) and (y.min() < 1 or y.max() > 10):
        raise DataError(f"{path}: labels must be 1..10 (10 is the digit 0), found {y.min()}..{y.max()}.")
    return _hwc(np.transpose(x, (3, 0, 1, 2)).astype(np.uint8), path), np.where(y == 10, 0, y)


def load_svhn(raw: Path, source: str, split: str = "train", check_md5: bool = True) -> tuple[np.ndarray, np.ndarray]:
    raw = Path(raw)
    if source == "download" or (source == "auto" and not (raw / SVHN_DIR / f"{split}_32x32.mat").is_file()):
        from torchvision.datasets import SVHN

        try:
            log(f"downloading SVHN {split} into {raw / SVHN_DIR} with torchvision")
            SVHN(root=str(raw / SVHN_DIR), split=split, download=True)
        except Exception as exc:  # noqa: BLE001 - any network/permission failure
            raise _missing(raw, [raw / SVHN_DIR / f"{split}_32x32.mat"],
                           f"SVHN (download failed: {exc!s:.200})") from None
    return read_svhn(raw, split, check_md5)


# ---------------------------------------------------------------- LSUN-FIX
def read_lsun_fix(raw: Path) -> np.ndarray:
    """LSUN-FIX as uint8 (N, 32, 32, 3): LSUN_fix.npy if present, else every image under LSUN_fix/
    in sorted path order (RGB; each must be 32x32)."""
    raw = Path(raw)
    npy, folder = raw / LSUN_FIX_NPY, raw / LSUN_FIX_DIR
    if npy.is_file():
        try:
            arr = np.load(npy, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise DataError(f"{npy}: not a readable .npy array ({type(exc).__name__}: {exc}).") from None
        if arr.ndim == 4 and arr.shape[1] == 3 and arr.shape[3] != 3:
            arr = arr.transpose(0, 2, 3, 1)  # (N, 3, 32, 32) -> (N, 32, 32, 3)
        return _hwc(arr, npy)
    if not folder.is_dir():
        raise _missing(raw, [folder, npy], "LSUN-FIX (either)")
    from src.data.images import decode

    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{folder}: no PNG/JPEG images found (nested folders are searched).")
    images = []
    for f in files:
        img = np.asarray(decode(f, str(f), "RGB", "unreadable image", "Replace or delete it."))
        if img.shape != (32, 32, 3):
            raise DataError(f"{f}: LSUN-FIX images are 32x32, this one is {img.shape[1]}x{img.shape[0]}.")
        images.append(img)
    return np.stack(images).astype(np.uint8)
