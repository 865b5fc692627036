"""Chapter 06's figures are legible at the page's width: at most TEXT_WIDTH inches wide, no text
smaller than the body's, a colorbar where colour is a value, labelled axes."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from automap_nb import study
from automap_nb.plotting import TEXT_WIDTH

BODY_PT = 12


def _texts(fig):
    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip() and t.get_visible()]


def _check_legible(fig):
    width, _ = fig.get_size_inches()
    assert width <= TEXT_WIDTH + 1e-9
    small = [(t.get_text(), t.get_fontsize()) for t in _texts(fig) if t.get_fontsize() < BODY_PT]
    assert not small, f"text smaller than {BODY_PT} pt: {small}"
    fig.canvas.draw()  # tight_layout and colorbars draw without error


@pytest.fixture
def slices():
    rng = np.random.default_rng(0)
    target = rng.random((3, 16, 16)).astype(np.float32)
    recon = {acc: {m: target + 0.05 * acc * rng.standard_normal(target.shape).astype(np.float32)
                   for m in study.METHODS} for acc in (4, 8)}
    return target, recon


def test_examples_figure_is_legible_with_colorbars_and_psnr(slices):
    target, recon = slices
    fig = study.examples_figure(target[1], recon, [4, 8], 1)
    _check_legible(fig)
    texts = [t.get_text() for t in _texts(fig)]
    assert "target" in texts and "AUTOMAP" in texts and "mean image" not in texts  # mean image: same at every ×
    assert sum(t.endswith(" dB") for t in texts) == 2 * len(study.EXAMPLE_METHODS)  # a PSNR under each panel
    labels = {ax.get_ylabel() for ax in fig.axes}
    assert {"|x| (volume max = 1)", "|error| (volume max = 1)"} <= labels  # the two colorbars
    plt.close(fig)


def test_masks_figure_is_legible():
    rng = np.random.default_rng(1)
    image = (rng.random((16, 16)) + 1j * rng.random((16, 16))).astype(np.complex64)
    masks = {1: np.ones(16, bool), 4: np.arange(16) % 4 == 0}
    fig = study.masks_figure(image, masks)
    _check_legible(fig)
    assert "4x: 4/16 lines" in [t.get_text() for t in _texts(fig)]
    plt.close(fig)


def test_per_volume_figure_marks_clipped_values_and_labels_its_axes():
    def per(*values):
        return {"per_volume": {f"file{i}.h5": {"psnr": v} for i, v in enumerate(values)}}

    metrics = {m: {"1x": per(20.0, 21.0), "4x": per(18.0, 19.5)} for m in study.METHODS}
    metrics["zero_filled"]["1x"] = per(147.9, 148.0)
    fig = study.per_volume_figure(metrics, "psnr")
    _check_legible(fig)
    texts = [t.get_text() for t in _texts(fig)]
    assert "148" in texts or "147" in texts  # the clipped value is written next to its marker
    assert all(ax.get_xlabel() == "PSNR (dB)" for ax in fig.axes)
    assert "one test volume (2 in all)" in texts
    plt.close(fig)
