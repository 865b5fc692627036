"""The figures (``automap_nb.figures``) are legible at the page's width: shown as the notebook shows
them (everything drawn, ``bbox_inches="tight"``, at the figure's dpi) they are at most TEXT_WIDTH
inches wide, no text is smaller than the body's, and colour that carries a value has a labelled
colorbar. The figure modules load no Keras (chapters 01-02 draw without it)."""

import io
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from automap_nb.figures import learning, mri, reconstruction, robustness, weights
from automap_nb.figures.style import TEXT_WIDTH

BODY_PT = 12
METHODS = ("mean_image", "zero_filled", "tv", "unet", "automap")  # experiments.undersampling.METHODS


def _texts(fig):
    return [t for t in fig.findobj(matplotlib.text.Text) if t.get_text().strip() and t.get_visible()]


def _shown_width_px(fig) -> float:
    """The width of the PNG the notebook's inline backend makes of ``fig``."""
    from PIL import Image

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", dpi=fig.dpi)
    return Image.open(io.BytesIO(buffer.getvalue())).size[0]


def _check_legible(fig, shown_width: bool = True):
    assert fig.get_size_inches()[0] <= TEXT_WIDTH + 1e-9
    small = [(t.get_text(), t.get_fontsize()) for t in _texts(fig) if t.get_fontsize() < BODY_PT]
    assert not small, f"text smaller than {BODY_PT} pt: {small}"
    width = _shown_width_px(fig)  # draws everything: tight_layout and colorbars draw without error
    if shown_width:
        assert width <= TEXT_WIDTH * fig.dpi


def test_figure_modules_load_no_keras():
    code = ("import sys; from automap_nb.figures import learning, mri, reconstruction, robustness, style, weights; "
            "loaded = {'keras', 'tensorflow', 'jax', 'torch'} & set(sys.modules); assert not loaded, loaded")
    subprocess.run([sys.executable, "-c", code], check=True)


# ---- reconstruction ---------------------------------------------------------------------------------


def test_prediction_grid_fits_the_page_with_metrics_under_panels_and_two_colorbars():
    rng = np.random.default_rng(0)
    targets = rng.random((4, 16, 16)).astype(np.float32)
    pred = np.clip(targets + 0.1 * rng.standard_normal(targets.shape), 0, 1).astype(np.float32)
    columns = {
        "AUTOMAP": pred, "|error| AUTOMAP": np.abs(pred - targets), "mean training image": targets.mean(0)[None].repeat(4, 0)
    }
    metrics = {name: [f"{20 + i:.1f} dB, 0.{50 + i}" for i in range(4)] for name in ("AUTOMAP", "mean training image")}
    fig = reconstruction.prediction_grid(targets, columns, titles=[f"file{i}\nslice {i}" for i in range(4)], panel_labels=metrics)
    _check_legible(fig)
    texts = [t.get_text() for t in _texts(fig)]
    assert sum(" dB, 0." in t for t in texts) == 8  # PSNR and SSIM under each reconstruction
    assert texts.count("ground truth") == 1 and "file2\nslice 2" in texts
    labels = {ax.get_xlabel() for host in fig.axes for ax in (host, *host.child_axes)}
    assert {"|x| (volume max = 1)", "|error|"} <= labels  # the colorbars, inset below the panels
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[-1] == "|error|\nAUTOMAP"  # error columns last, after the grey-scale ones
    plt.close(fig)


@pytest.fixture
def slices():
    rng = np.random.default_rng(0)
    target = rng.random((3, 16, 16)).astype(np.float32)
    recon = {
        acc: {m: target + 0.05 * acc * rng.standard_normal(target.shape).astype(np.float32)
              for m in METHODS}
        for acc in (4, 8)
    }
    return target, recon


def test_method_examples_are_legible_with_colorbars_and_psnr(slices):
    target, recon = slices
    fig = reconstruction.method_examples(target[1], recon, [4, 8], 1)
    _check_legible(fig)
    texts = [t.get_text() for t in _texts(fig)]
    assert "target" in texts and "AUTOMAP" in texts and "mean image" not in texts  # mean image: same at every ×
    assert sum(t.endswith(" dB") for t in texts) == 2 * len(reconstruction.EXAMPLE_METHODS)  # a PSNR under each panel
    labels = {ax.get_ylabel() for ax in fig.axes}
    assert {"|x| (volume max = 1)", "|error| (volume max = 1)"} <= labels  # the two colorbars
    plt.close(fig)


def test_per_volume_metrics_mark_clipped_values_and_label_their_axes():

    def per(*values):
        return {"per_volume": {f"file{i}.h5": {"psnr": v} for i, v in enumerate(values)}}

    metrics = {m: {"1x": per(20.0, 21.0), "4x": per(18.0, 19.5)} for m in METHODS}
    metrics["zero_filled"]["1x"] = per(147.9, 148.0)
    fig = reconstruction.per_volume_metrics(metrics, "psnr")
    _check_legible(fig)
    texts = [t.get_text() for t in _texts(fig)]
    assert "148" in texts or "147" in texts  # the clipped value is written next to its marker
    assert all(ax.get_xlabel() == "PSNR (dB)" for ax in fig.axes)
    assert "one test volume (2 in all)" in texts
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == [reconstruction.SHORT_LABELS[m] for m in METHODS]
    plt.close(fig)


def test_paired_differences_draw_an_interval_per_pair_and_write_out_undefined_ones():
    from automap_nb import statistics

    def ev(*values):
        return {"per_volume": {f"v{i}": {"psnr": p, "ssim": p / 100, "nmse": 1 / p} for i, p in enumerate(values)}}

    pairs = {
        "1x": {
            "automap_vs_zero_filled": statistics.compare(ev(30, 31, 32), ev(np.inf, np.inf, np.inf), "test", "AUTOMAP",
                                                         "zero-filled")
        }, "4x": {
            "automap_vs_tv": statistics.compare(ev(24, 25, 26), ev(23, 24.5, 24), "test", "AUTOMAP", "TV"),
            "unet_vs_mean": statistics.compare(ev(20, 21, 22), ev(25, 26, 27), "test", "U-Net", "mean training image")
        }
    }
    fig = reconstruction.paired_differences(pairs)
    _check_legible(fig)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["1x: AUTOMAP − zero-filled", "4x: AUTOMAP − TV", "4x: U-Net − mean image"]
    texts = [t.get_text() for t in _texts(fig)]
    assert "undefined" in texts  # the infinite PSNR of the exact method: no interval to draw
    assert "3 test volumes" in fig._suptitle.get_text()
    assert [ax.get_xlabel() for ax in fig.axes] == ["PSNR difference (dB)", "SSIM difference"]
    plt.close(fig)


def test_psnr_against_cost_legend_fits_the_page_with_many_variants():
    names = ["original", "greenberg", "smaller", "one_dense", "fullconv"]
    summary = [{
        "variant": v, "acceleration": acc, "params": 10**(5 + i / 2), "train_seconds": 10.0 + i, "val_psnr": 15.0 + i / 4,
        "val_psnr_min": 14.8 + i / 4, "val_psnr_max": 15.3 + i / 4
    } for i, v in enumerate(names) for acc in ("1x", "4x")]
    fig = reconstruction.psnr_against_cost(summary, 16.0)
    _check_legible(fig)
    assert "mean training image" in [t.get_text() for t in _texts(fig)]
    plt.close(fig)


# ---- mri, weights, learning, robustness -------------------------------------------------------------


def test_undersampling_masks_are_legible():
    rng = np.random.default_rng(1)
    image = (rng.random((16, 16)) + 1j * rng.random((16, 16))).astype(np.complex64)
    masks = {1: np.ones(16, bool), 4: np.arange(16) % 4 == 0}
    fig = mri.undersampling_masks(image, masks)
    _check_legible(fig)
    assert "4x: 4/16 lines" in [t.get_text() for t in _texts(fig)]
    plt.close(fig)


def test_dense_input_maps_fit_the_page_with_one_labelled_scale_per_row():
    rng = np.random.default_rng(1)
    n, width = 8, 32
    kernel0 = rng.uniform(-0.03, 0.03, (2 * n * n, width)).astype(np.float32)
    kernel = kernel0 + rng.normal(0, 0.01, kernel0.shape).astype(np.float32)
    for units in ([3, 9, 17, 30], [5]):
        fig = weights.dense_input_maps(kernel0, kernel, n, units)
        _check_legible(fig)
        assert {"|W₀|", "|W|", "|W − W₀|"} <= {ax.get_ylabel() for ax in fig.axes}
        assert [ax.get_title() for ax in fig.axes if ax.get_title()] == [f"unit {u}" for u in units]
        plt.close(fig)


def test_natural_image_crops_and_transfer_curves_draw_legibly():
    rng = np.random.default_rng(2)
    crops = np.exp(1j * rng.uniform(-np.pi, np.pi, (4, 16, 16))) * rng.random((4, 16, 16))
    fig = mri.natural_image_crops(crops, ["moon", "coins", "clock", "camera"])
    _check_legible(fig)
    assert "phase (rad)" in {ax.get_xlabel() for ax in fig.axes}
    plt.close(fig)
    curve = {"samples": [8, 16], "seconds": [1.0, 2.0], "val_psnr": [12.0, 13.0]}
    fig = learning.transfer_curves({"all": {"curve": curve}, "scratch": {"curve": curve}}, {"mean training image": 11.0},
                                   {"all": "fine-tune all", "scratch": "from scratch"})
    _check_legible(fig, shown_width=False)
    assert {"fine-tune all", "from scratch", "mean training image"} <= {t.get_text() for t in _texts(fig)}
    plt.close(fig)


def test_perturbation_figures_draw_legibly():
    rows = [{"group": g, "method": m, "budget": b, "amp_worst": 2.0 + b, "amp_random": 0.5}
            for g, m in (("1×", "automap"), ("1×", "ifft"), ("4×", "unet")) for b in (0.01, 0.1)]
    fig = robustness.perturbation_curves(rows, {"automap": "AUTOMAP", "ifft": "inverse FFT", "unet": "U-Net"})
    _check_legible(fig)
    assert {"AUTOMAP", "inverse FFT", "U-Net"} <= {t.get_text() for t in _texts(fig)}
    plt.close(fig)
    image = np.random.default_rng(3).random((16, 16))
    cases = [{"label": "AUTOMAP 1×", "target": image, "input_image": image, "clean": image, "perturbed": image * 0.9}]
    fig = robustness.perturbed_images(cases)
    _check_legible(fig)
    plt.close(fig)


def test_weight_change_measures_and_their_outcomes():
    rng = np.random.default_rng(0)
    w0 = {
        "dense_1": {"kernel": rng.uniform(-0.01, 0.01, (64, 32)), "bias": np.zeros(32)},
        "conv_1": {"kernel": rng.uniform(-0.1, 0.1, (3, 3, 1, 4)), "bias": np.zeros(4)}
    }
    w = {k: {"kernel": 1.5 * v["kernel"], "bias": v["bias"] + 0.1} for k, v in w0.items()}
    rows = weights.weight_changes(w0, w)
    assert [r["kernel_rel_change"] for r in rows] == pytest.approx([0.5, 0.5])
    rows = weights.add_output_changes(rows, {"dense_1": 0.2, "conv_1": 0.9})
    outcomes = weights.measure_outcomes(rows)
    # same relative change (neither least), a smaller absolute change for the small-scale dense kernel
    assert outcomes["kernel_rel_change"]["outcome"] == "mixed"
    assert outcomes["kernel_rms_change"]["outcome"] == "dense least"
    assert outcomes["output_rel_change"]["outcome"] == "dense least"
    assert weights.output_change(np.ones(4), np.full(4, 3.0)) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="zero"):
        weights.output_change(np.zeros(4), np.ones(4))
    fig = weights.change_bars(rows)
    _check_legible(fig)
    assert {"ratio", "RMS (weight units)"} <= {ax.get_ylabel() for ax in fig.axes}
    plt.close(fig)


def test_ring_measures_a_constructed_ring_and_draws_legibly():
    n = 32
    y, x = np.indices((n, n)) - n // 2
    radius = np.hypot(y, x) / (n / 2)
    energy = np.where((radius >= 0.25) & (radius < 0.5), 10.0, 1.0)  # a ring 10× denser than the rest
    ring = weights.ring(energy, bins=16)
    assert ring["inner"] == pytest.approx(0.25, abs=0.1) and ring["outer"] == pytest.approx(0.5, abs=0.1)
    assert ring["share_inside"] + ring["share_ring"] + ring["share_outside"] == pytest.approx(1.0)
    expected = energy[(radius >= ring["inner"]) & (radius < ring["outer"])].sum() / energy.sum()
    assert ring["share_ring"] == pytest.approx(expected, abs=0.02)
    assert ring["density_ring"] > 3
    profile = weights.radial_profile(np.ones((n, n)))
    assert np.nanmax(profile["mean"]) == pytest.approx(1.0) and profile["share"].sum() == pytest.approx(1.0)
    kernel0 = np.zeros((2 * n * n, 5))
    kernel = kernel0 + np.repeat(energy.reshape(n, n, 1, 1), 2, axis=2).reshape(-1, 1)
    assert weights.change_energy_map(kernel0, kernel, n) == pytest.approx(10 * energy**2)
    assert weights.output_energy_map(np.zeros((5, n * n)), np.ones((5, n * n)), n) == pytest.approx(np.full((n, n), 5.0))
    maps = {"dense_1\n(k-space input)": energy, "dense_2\n(image output)": energy.T}
    fig = weights.energy_map_figure(maps, {k: weights.ring(v) for k, v in maps.items()})
    _check_legible(fig)
    assert sum(isinstance(p, matplotlib.patches.Circle) for ax in fig.axes for p in ax.patches) == 4
    plt.close(fig)


def test_final_trend_reads_the_learning_rate_and_the_last_slope():
    epochs = [{"epoch": e, "lr": 1e-3 * (1 - e / 200), "samples": 128, "val_psnr": 20 + 0.01 * e if e % 4 == 0 else float("nan")}
              for e in range(1, 101)]
    trend = learning.final_trend({"epochs": epochs}, fraction=0.25)
    assert trend["window_start"] == 76 and trend["window_end"] == 100 and trend["window_points"] == 7
    assert trend["slope_db_per_100_epochs"] == pytest.approx(1.0)
    assert trend["final_lr"] == pytest.approx(5e-4) and trend["final_lr_share"] == pytest.approx(0.5 / 0.995)
    fig = learning.training_curves({"epochs": [{**e, "loss": 1.0, "psnr": 20.0, "val_loss": e["val_psnr"]} for e in epochs]})
    _check_legible(fig)
    plt.close(fig)
