"""The book's figure style, set when any figure module is imported, and the one image-panel helper.

The book's column is about 700 px wide and figures are drawn at 100 dpi, so a figure at most
:data:`TEXT_WIDTH` inches wide is shown at (about) its own size, and 12 pt text (16.7 px) is no
smaller than the page's body text (16 px).
"""

from __future__ import annotations

import matplotlib.pyplot as plt

TEXT_WIDTH = 6.8
BOOK_STYLE = {
    "figure.dpi": 100, "savefig.dpi": 100, "font.size": 12, "axes.titlesize": 12, "axes.labelsize": 12, "xtick.labelsize": 12,
    "ytick.labelsize": 12, "legend.fontsize": 12, "figure.titlesize": 12
}
TRAIN_COLOUR, VAL_COLOUR = "tab:blue", "tab:red"  # train and val curves, as the paper's Figure 3


def use_book_style() -> None:
    """Set matplotlib's defaults to the book's (font sizes legible at the page's width)."""
    plt.rcParams.update(BOOK_STYLE)


use_book_style()  # every figure module imports this one, so the chapters draw in the book's style


def image_panel(ax, image, title: str | None = None, cmap: str = "gray", **kwargs):
    """Draw ``image`` ``(H, W)`` on ``ax`` without ticks, titled ``title`` (none if empty).

    ``kwargs`` go to ``imshow`` (``vmin``, ``vmax``, …). Returns the image handle, for a colorbar.
    """
    handle = ax.imshow(image, cmap=cmap, **kwargs)
    if title:
        ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return handle
