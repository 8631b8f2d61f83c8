"""Decoding image files that come from outside the pipeline: a person's folder, a mirror's archives.

`decode` is the one way such a file is opened: PNG and JPEG only (a file named .png that is some
other format Pillow knows - EPS, which runs Ghostscript, or a TIFF - is refused as unreadable),
and nothing over Pillow's pixel limit `Image.MAX_IMAGE_PIXELS` (about 89 million pixels by
default, kept): a few kilobytes of PNG can declare an image of gigapixels, whose decoding would
fill the memory. Pillow raises `DecompressionBombError` only above twice the limit and merely
warns between once and twice; both are refused here.
"""
from __future__ import annotations

import re
import warnings

from src.core.errors import DataError, excerpt

FORMATS = ("PNG", "JPEG")


def decode(source, name: str, mode: str, unreadable: str = "not a readable PNG/JPEG image",
           fix: str = "Remove or replace it."):
    """`source` (a path or a binary file object) decoded and converted to `mode` ("RGB", "L"), as a
    loaded PIL image. A file Pillow cannot read is a DataError `<name>: <unreadable> (why). <fix>`;
    one over the pixel limit is a DataError naming its size (`bomb_message`)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source, formats=FORMATS) as im:
                return im.convert(mode)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise DataError(bomb_message(name, exc)) from None
    except (UnidentifiedImageError, OSError, ValueError, EOFError, SyntaxError) as exc:
        raise DataError(f"{name}: {unreadable} ({excerpt(exc, 120)}). {fix}") from None


def bomb_message(name: str, exc: Exception) -> str:
    from PIL import Image

    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(found.group(1)):,} pixels" if found else "its size is unknown"
    return (f"{name}: {size}, more than Pillow's limit of {Image.MAX_IMAGE_PIXELS:,} pixels "
            f"(PIL.Image.MAX_IMAGE_PIXELS): refused as a possible decompression bomb (a small file that "
            f"decodes to a huge image). Remove the file, or downscale the image below the limit and save it again.")
