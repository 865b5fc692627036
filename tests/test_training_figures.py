"""Chapters 04, 05 and 07's figures are legible at the page's width: shown as the notebook shows
them (everything drawn, ``bbox_inches="tight"``, at the figure's dpi) they are at most TEXT_WIDTH
inches wide, no text is smaller than the body's, and colour that carries a value has a labelled
colorbar."""

import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from automap_nb import plotting_training, study
from automap_nb.plotting import TEXT_WIDTH

BODY_PT = 12


def _texts(fig):
    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip() and t.get_visible()]


def _shown_width_px(fig) -> float:
    """The width of the PNG the notebook's inline backend makes of ``fig``."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", dpi=fig.dpi)
    return Image.open(io.BytesIO(buffer.getvalue())).size[0]


def _check_legible(fig):
    assert fig.get_size_inches()[0] <= TEXT_WIDTH + 1e-9
    small = [(t.get_text(), t.get_fontsize()) for t in _texts(fig) if t.get_fontsize() < BODY_PT]
    assert not small, f"text smaller than {BODY_PT} pt: {small}"
    assert _shown_width_px(fig) <= TEXT_WIDTH * fig.dpi


def test_prediction_grid_fits_the_page_with_metrics_under_panels_and_two_colorbars():
    rng = np.random.default_rng(0)
    targets = rng.random((4, 16, 16)).astype(np.float32)
    pred = np.clip(targets + 0.1 * rng.standard_normal(targets.shape), 0, 1).astype(np.float32)
    columns = {"AUTOMAP": pred, "|error| AUTOMAP": np.abs(pred - targets),
               "mean training image": targets.mean(0)[None].repeat(4, 0)}
    metrics = {name: [f"{20 + i:.1f} dB, 0.{50 + i}" for i in range(4)] for name in ("AUTOMAP", "mean training image")}
    fig = plotting_training.prediction_grid(targets, columns, titles=[f"file{i}\nslice {i}" for i in range(4)],
                                            panel_labels=metrics)
    _check_legible(fig)
    texts = [t.get_text() for t in _texts(fig)]
    assert sum(" dB, 0." in t for t in texts) == 8  # PSNR and SSIM under each reconstruction
    assert texts.count("ground truth") == 1 and "file2\nslice 2" in texts
    labels = {ax.get_xlabel() for host in fig.axes for ax in (host, *host.child_axes)}
    assert {"|x| (volume max = 1)", "|error|"} <= labels  # the colorbars, inset below the panels
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[-1] == "|error|\nAUTOMAP"  # error columns last, after the grey-scale ones
    plt.close(fig)


def test_dense_input_maps_fit_the_page_with_one_labelled_scale_per_row():
    rng = np.random.default_rng(1)
    n, width = 8, 32
    kernel0 = rng.uniform(-0.03, 0.03, (2 * n * n, width)).astype(np.float32)
    kernel = kernel0 + rng.normal(0, 0.01, kernel0.shape).astype(np.float32)
    for units in ([3, 9, 17, 30], [5]):
        fig = plotting_training.dense_input_maps(kernel0, kernel, n, units)
        _check_legible(fig)
        assert {"|W₀|", "|W|", "|W − W₀|"} <= {ax.get_ylabel() for ax in fig.axes}
        assert [ax.get_title() for ax in fig.axes if ax.get_title()] == [f"unit {u}" for u in units]
        plt.close(fig)


def test_study_figure_legend_fits_the_page_with_many_variants():
    names = ["original", "seed", "smaller", "one_dense", "fullconv"]
    summary = [{"variant": v, "acceleration": acc, "params": 10 ** (5 + i / 2), "train_seconds": 10.0 + i,
                "val_psnr": 15.0 + i / 4, "val_psnr_min": 14.8 + i / 4, "val_psnr_max": 15.3 + i / 4}
               for i, v in enumerate(names) for acc in ("1x", "4x")]
    fig = study.study_figure(summary, 16.0)
    _check_legible(fig)
    assert "mean training image" in [t.get_text() for t in _texts(fig)]
    plt.close(fig)
