"""Sample grids of images (greyscale (N, H, W) or RGB (N, H, W, 3)), optionally captioned, saved as PNG."""
from __future__ import annotations

import numpy as np

from src.core.io import save_figure


def image_grid(path, images: np.ndarray, captions: list[str] | None = None, title: str = "",
               cols: int = 8) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(images)
    cols = max(1, min(cols, n))
    rows = max(1, int(np.ceil(n / cols)))
    cell_h = 1.45 if captions else 1.1
    fig, axes = plt.subplots(rows, cols, figsize=(1.1 * cols, cell_h * rows + 0.4), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            if captions:
                ax.set_title(captions[i], fontsize=6.5)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(path, fig)
    plt.close(fig)
