"""A small "own images" folder made from CIFAR-10 JPEGs, to try benchmark folder
(docs/label-your-own-images.md, the walk-through).

    python -m src.data.example_folder data/raw/cifar10-jpg.tar.gz data/own

writes data/own/images/ (the unlabeled pool: nested folders, JPEG files named by number only),
data/own/test/<class>/ (a labeled test folder, ImageFolder layout, of the iD classes) and
data/own/answer_key.csv (file -> the answer a careful person would give; only the scripted
stand-in for a person reads it). The mix follows the natural-image stand-in: iD = airplane,
automobile, cat, deer; ambiguous = their near neighbours ship, truck, dog, horse; OoD = bird, frog.
"""
from __future__ import annotations

import argparse
import sys
import tarfile
from pathlib import Path

import numpy as np

from src.core.errors import UserError
from src.data.standin import CIFAR10_CLASSES, NEAR_NEIGHBOURS, open_archive

ID_CLASSES = ("airplane", "automobile", "cat", "deer")
OOD_CLASSES = ("bird", "frog")


def answer_for(cifar_class: str) -> str:
    """What a person answers for an image of this CIFAR-10 class."""
    if cifar_class in ID_CLASSES:
        return cifar_class
    return "ambiguous" if NEAR_NEIGHBOURS.get(cifar_class) in ID_CLASSES else "ood"


def make(tar_path: Path, out: Path, per_class: int = 30, test_per_class: int = 25, seed: int = 0) -> dict:
    """Copy JPEGs out of the CIFAR-10 archive (bytes unchanged); returns counts per answer."""
    gen = np.random.default_rng(seed)
    images, test, key = out / "images", out / "test", out / "answer_key.csv"
    if images.exists() or test.exists():
        raise UserError(f"{out}: already holds images/ or test/; remove them or choose another folder.")
    with open_archive(Path(tar_path)) as tar:
        members = {}
        for m in tar.getmembers():
            parts = Path(m.name).parts
            if m.isfile() and len(parts) >= 3 and parts[-3] in ("train", "test") and parts[-2] in CIFAR10_CLASSES:
                members.setdefault((parts[-3], parts[-2]), []).append(m)
        picked = []  # (cifar class, member) of the pool
        for cls in CIFAR10_CLASSES:
            train = sorted(members.get(("train", cls), []), key=lambda m: m.name)
            if len(train) < per_class:
                raise UserError(f"{tar_path}: only {len(train)} train images of {cls}, {per_class} asked for.")
            picked += [(cls, train[i]) for i in sorted(gen.choice(len(train), per_class, replace=False))]
        order = gen.permutation(len(picked))
        rows = ["file,answer"]
        for n, k in enumerate(order):
            cls, member = picked[k]
            rel = f"{'part-a' if n % 2 == 0 else 'part-b/more'}/{n:04d}.jpg"  # nested, named by number only
            _copy(tar, member, images / rel)
            rows.append(f"{rel},{answer_for(cls)}")
        for cls in ID_CLASSES:
            held = sorted(members.get(("test", cls), []), key=lambda m: m.name)[:test_per_class]
            for i, member in enumerate(held):
                _copy(tar, member, test / cls / f"{i:04d}.jpg")
    key.write_text("\n".join(rows) + "\n")
    answers = [r.split(",")[1] for r in rows[1:]]
    return {a: answers.count(a) for a in sorted(set(answers))}


def _copy(tar: tarfile.TarFile, member: tarfile.TarInfo, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(tar.extractfile(member).read())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("archive", help="cifar10-jpg.tar.gz (train/<class>/*.jpg, test/<class>/*.jpg)")
    parser.add_argument("out", help="folder to create images/, test/ and answer_key.csv in")
    parser.add_argument("--per-class", type=int, default=30, help="pool images per CIFAR-10 class (default 30)")
    parser.add_argument("--test-per-class", type=int, default=25, help="test images per iD class (default 25)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        counts = make(Path(args.archive), Path(args.out), args.per_class, args.test_per_class, args.seed)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out}/images: {sum(counts.values())} images ({counts}); {args.out}/test: "
          f"{len(ID_CLASSES) * args.test_per_class} labeled test images of {', '.join(ID_CLASSES)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
