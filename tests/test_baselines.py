"""Baselines, U-Net and chapter 06/07 helpers: zero-filled, TV on a phantom, tiny training runs."""

import math

import h5py
import numpy as np
import pytest
from skimage.data import shepp_logan_phantom
from skimage.transform import resize

from automap_nb import baselines, evaluate, findings, statistics, training
from automap_nb.data import subsample, transforms
from automap_nb.data.prepared import downsample, read_split
from automap_nb.experiments import undersampling
from automap_nb.models import unet


def phantom(n: int) -> np.ndarray:
    return resize(shepp_logan_phantom(), (n, n), anti_aliasing=True).astype(np.complex64)


def write_prepared(path, n=16, volumes=6, slices=2, seed=0):
    """A tiny prepared file in the documented format (CONTRIBUTING.md), random smooth images."""
    rng = np.random.default_rng(seed)
    images, names, split = [], [], []
    splits = ["train", "train", "train", "train", "val", "test"]
    yy, xx = np.mgrid[:n, :n] / n
    for v in range(volumes):
        for _ in range(slices):
            blob = np.exp(-((yy - rng.uniform(.3, .7))**2 + (xx - rng.uniform(.3, .7))**2) / 0.05)
            images.append(blob * np.exp(1j * rng.uniform(0, 1) * xx))
            names.append(f"file{v}.h5".encode())
            split.append(splits[v % len(splits)].encode())
    images = np.array(images, np.complex64)
    names = np.array(names)
    for name in set(names.tolist()):
        images[names == name] /= np.abs(images[names == name]).max()
    scale = float(1 / np.sqrt(np.mean(np.abs(images[np.array(split) == b"train"])**2)))
    inputs, targets = transforms.image_to_example(images, scale)
    with h5py.File(path, "w") as f:
        f["images"], f["inputs"], f["targets"] = images, inputs, targets
        f["volume"], f["split"] = names, np.array(split)
        f["slice"] = np.tile(np.arange(slices, dtype=np.int32), volumes)
        f.attrs.update({"size": n, "kspace_scale": scale, "crop": 320, "source_dir": "synthetic", "normalisation": "per-volume"})
    return path


@pytest.fixture
def prepared(tmp_path):
    return write_prepared(tmp_path / "prepared.h5")


# ---- zero-filled and TV ----------------------------------------------------------------------------


def test_zero_filled_is_exact_when_fully_sampled_and_masks_columns():
    image = phantom(32)
    inputs, targets = transforms.image_to_example(image[None], 2.0)
    full = baselines.zero_filled(inputs, 2.0, masks=np.ones(32, bool))
    np.testing.assert_allclose(full, targets[..., 0], atol=1e-5)
    mask = subsample.mask_for("equispaced", 4, 32, 0)
    masked = baselines.zero_filled(inputs, 2.0, masks=mask)
    expected = np.abs(transforms.ifft2c(transforms.fft2c(image) * mask))
    np.testing.assert_allclose(masked[0], expected, atol=1e-5)


def test_tv_beats_zero_filled_on_a_phantom_at_4x():
    n = 64
    image = phantom(n)
    mask = subsample.mask_for("equispaced", 4, n, 0)
    inputs, targets = transforms.image_to_example(image[None], 1.0, mask)
    zf = baselines.zero_filled(inputs, 1.0)
    tv, seconds = baselines.tv_reconstruct(inputs, mask, 1.0, lamda=3e-3, max_iter=100, progress=False)
    psnr_zf = evaluate.psnr(targets[0, ..., 0], zf[0])
    psnr_tv = evaluate.psnr(targets[0, ..., 0], tv[0])
    assert psnr_tv > psnr_zf + 1.0, (psnr_tv, psnr_zf)
    assert seconds > 0


def test_tv_with_zero_lambda_is_the_zero_filled_solution():
    # λ = 0 leaves least squares on the sampled columns: from x0 = 0 the solver must land on the
    # zero-filled image, which checks sigpy's FFT, centring and mask axis against ours
    n = 32
    image = phantom(n)
    mask = subsample.mask_for("random", 4, n, 1)
    kspace = transforms.fft2c(image)
    x = baselines.tv_slice(kspace, mask, lamda=0.0, max_iter=200)
    np.testing.assert_allclose(x, transforms.ifft2c(kspace * mask), atol=1e-5)


def test_tune_tv_lambda_reports_grid_and_prefers_the_best(prepared):
    val = read_split(prepared, "val")
    masks = subsample.volume_masks(val["volume"], "equispaced", 4, 16)
    masked = subsample.apply_mask(val["inputs"], masks)
    out = baselines.tune_tv_lambda(masked, val["targets"], val["volume"], masks, val["kspace_scale"], [1e-3, 1.0], max_iter=20,
                                   progress=False)
    assert [row["lambda"] for row in out["grid"]] == [1e-3, 1.0]
    assert out["lambda"] == max(out["grid"], key=lambda r: r["psnr"])["lambda"]
    with pytest.raises(ValueError, match="lambdas"):
        baselines.tune_tv_lambda(masked, val["targets"], val["volume"], masks, 1.0, [], progress=False)


def test_baseline_shape_errors_name_the_argument():
    with pytest.raises(ValueError, match="inputs must be"):
        baselines.zero_filled(np.ones((4, 4, 2)), 1.0)
    with pytest.raises(ValueError, match="masks must be"):
        baselines.zero_filled(np.ones((2, 8, 8, 2)), 1.0, masks=np.ones((3, 8)))
    with pytest.raises(ValueError, match="lamda"):
        baselines.tv_slice(np.ones((8, 8), np.complex64), np.ones(8), lamda=-1)


# ---- U-Net --------------------------------------------------------------------------------------


def test_unet_shapes_levels_and_errors():
    model = unet.build_unet(16, in_chans=2, chans=4, num_pool=2)
    assert model.output_shape == (None, 16, 16, 1)
    assert unet.max_pool_levels(64) == 4 and unet.max_pool_levels(36) == 2 and unet.max_pool_levels(33) == 0
    with pytest.raises(ValueError, match="num_pool"):
        unet.build_unet(20, num_pool=3)
    with pytest.raises(ValueError, match="norm"):
        unet.build_unet(16, num_pool=2, norm="batch")


def test_residual_unet_returns_its_input_before_training():
    x = np.random.default_rng(0).random((2, 16, 16, 1)).astype(np.float32)
    model = unet.build_unet(16, chans=4, num_pool=2, residual=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), x, atol=1e-6)
    x2 = np.random.default_rng(1).standard_normal((1, 16, 16, 2)).astype(np.float32)
    model2 = unet.build_unet(16, in_chans=2, chans=4, num_pool=2, residual=True)
    np.testing.assert_allclose(model2.predict(x2, verbose=0)[..., 0], np.hypot(x2[..., 0], x2[..., 1]), atol=1e-5)


def test_unet_trains_through_the_shared_trainer(prepared, tmp_path):
    model, history = undersampling.train_method("unet", [4, 8], prepared, tmp_path / "unet", mask_kind="random",
                                                variant="greenberg", unet_chans=4, epochs=2, batch_size=4, learning_rate=1e-3,
                                                seed=0, progress=False)
    assert len(history["epochs"]) == 2
    assert history["config"]["mask_fn"] == "random_4x+8x"
    assert history["config"]["input_transform"] is not None  # the zero-filled magnitude hook
    assert all(math.isfinite(e["loss"]) for e in history["epochs"])
    assert model.input_shape == (None, 16, 16, 1)


def test_masked_automap_training_step_sees_masked_kspace(prepared, tmp_path):
    mask_fn = subsample.make_mask_fn("equispaced", 4, 16, seed=0)
    data = training.PreparedDataset(prepared, "train", batch_size=4, training=True, mask_fn=mask_fn)
    inputs, targets = data[0]
    zero_columns = np.all(inputs == 0, axis=(1, 3))  # (B, n): columns with no k-space data
    assert zero_columns.sum(axis=1).min() >= 16 - 16 // 4 - 2  # about 3/4 of the columns are empty
    model, history = undersampling.train_method("automap", [4], prepared, tmp_path / "automap", mask_kind="equispaced",
                                                variant="greenberg", unet_chans=4, epochs=1, batch_size=4, learning_rate=2e-4,
                                                seed=0, progress=False)
    assert history["config"]["mask_fn"] == "equispaced_4x"
    assert math.isfinite(history["epochs"][0]["loss"])
    assert model.count_params() == history["config"]["params"]


def test_device_pipeline_trains_automap_only(prepared, tmp_path):
    common = dict(mask_kind="equispaced", variant="greenberg", unet_chans=4, epochs=1, batch_size=4, learning_rate=2e-4, seed=0,
                  progress=False, pipeline="device")
    _, history = undersampling.train_method("automap", [4], prepared, tmp_path / "automap", **common)
    assert history["config"]["pipeline"] == "device" and math.isfinite(history["epochs"][0]["loss"])
    _, history = undersampling.train_method("unet", [4], prepared, tmp_path / "unet", **common)
    assert history["config"]["pipeline"] == "numpy"  # its zero-filled inputs are a numpy transform


def test_automap_can_train_on_the_slices_as_they_are(prepared, tmp_path):
    common = dict(mask_kind="random", variant="greenberg", unet_chans=4, epochs=1, batch_size=4, learning_rate=2e-4, seed=0,
                  progress=False)
    _, history = undersampling.train_method("automap", [4, 8], prepared, tmp_path / "plain", augment=False, **common)
    assert history["config"]["augment"] is False and math.isfinite(history["epochs"][0]["loss"])
    _, history = undersampling.train_method("automap", [4, 8], prepared, tmp_path / "tiled", **common)
    assert history["config"]["augment"] is True  # the paper's reflection-tiling crops by default


def test_fine_tuning_starts_from_chapter_03s_model_only_when_built_alike(prepared, tmp_path):
    from automap_nb import models

    source = models.build_variant("greenberg", 16, seed=1, conv_filters=4, dc_phase=True)
    training.train(source, prepared, tmp_path / "ch03", epochs=1, batch_size=4, learning_rate=1e-3, progress=False)
    tuned = undersampling.build_method_model("automap", 16, "greenberg", 4, seed=0, conv_filters=4, init_from=tmp_path / "ch03",
                                             dc_phase=True)
    for mine, theirs in zip(tuned.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    with pytest.raises(ValueError, match="dc_phase=True.*dc_phase=False"):  # the weights alone would fit
        undersampling.build_method_model("automap", 16, "greenberg", 4, seed=0, conv_filters=4, init_from=tmp_path / "ch03")
    with pytest.raises(ValueError, match="train_conv_filters"):
        undersampling.build_method_model("automap", 16, "greenberg", 4, seed=0, conv_filters=8, init_from=tmp_path / "ch03",
                                         dc_phase=True)


# ---- chapter 06/07 helpers ---------------------------------------------------------------------------


def test_downsample_prepared_keeps_the_format(prepared, tmp_path):
    out = downsample(prepared, tmp_path / "small.h5", 8)
    small = read_split(out, "train")
    assert small["inputs"].shape[1:] == (8, 8, 2)
    np.testing.assert_allclose(np.sqrt(np.mean(small["inputs"]**2) * 2), 1.0, rtol=1e-4)  # unit RMS k-space
    back = np.abs(transforms.inputs_to_image(small["inputs"], small["kspace_scale"]))
    np.testing.assert_allclose(back, small["targets"][..., 0], atol=1e-5)
    with h5py.File(out) as f:
        for name in set(f["volume"][()].tolist()):
            assert np.abs(f["images"][()][f["volume"][()] == name]).max() == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match=r"size must be an integer in \[2, 16\]"):
        downsample(prepared, tmp_path / "big.h5", 32)


def test_check_groups():
    assert undersampling.check_groups([[1], [4, 8]], [1, 4, 8]) == [[1], [4, 8]]
    with pytest.raises(ValueError, match="exactly once"):
        undersampling.check_groups([[1, 4], [4, 8]], [1, 4, 8])
    with pytest.raises(ValueError, match="non-empty"):
        undersampling.check_groups([[1], []], [1])


def _per_volume(**by_method):
    """``{method: {acc_key: evaluate_volumes-like}}`` from ``{method: {acc_key: [psnr per volume]}}``
    (SSIM and NMSE follow PSNR: higher PSNR, higher SSIM, lower NMSE)."""

    def ev(values):
        return {"per_volume": {f"v{i}.h5": {"psnr": p, "ssim": p / 100, "nmse": 1 / p} for i, p in enumerate(values)}}

    return {m: {k: ev(v) for k, v in by_acc.items()} for m, by_acc in by_method.items()}


def _chapter06_metrics(unet_4x=(24.0, 25.0, 26.0, 25.5), automap_1x=(30.0, 31.0, 32.0, 31.5)):
    base = {"1x": [17.0, 17.5, 18.0, 16.5], "4x": [17.0, 17.5, 18.0, 16.5]}
    return _per_volume(mean_image=base, zero_filled={"1x": [147.0] * 4, "4x": [20.0, 21.0, 22.0, 21.5]},
                       tv={"1x": [52.0, 53.0, 51.0, 52.5],
                           "4x": [22.0, 23.0, 24.0, 23.5]}, unet={"1x": [40.0, 41.0, 42.0, 41.5], "4x": list(unet_4x)},
                       automap={"1x": list(automap_1x), "4x": [23.0, 24.2, 24.9, 24.4]})


def test_compare_all_pairs_every_method_on_the_same_volumes_with_statistics():
    metrics = _chapter06_metrics()
    comparisons = undersampling.compare_all(metrics, [1, 4], "test")
    assert list(comparisons) == ["1x", "4x"]
    assert list(comparisons["4x"]) == [undersampling.pair_key(a, b) for a, b in undersampling.PAIRS]
    c = comparisons["4x"]["automap_vs_unet"]["psnr"]
    assert (c.a, c.b, c.split, c.volumes) == ("AUTOMAP", "U-Net", "test", 4)
    assert c == statistics.compare(metrics["automap"]["4x"], metrics["unet"]["4x"], "test", "AUTOMAP", "U-Net")["psnr"]
    assert c.outcome == "b" and c.winner == "U-Net"  # AUTOMAP is 0.9-1.1 dB below on every volume
    assert comparisons["4x"]["automap_vs_zero_filled"]["nmse"].winner == "AUTOMAP"  # lower NMSE is better
    json = undersampling.comparisons_json(comparisons)
    assert json["4x"]["automap_vs_unet"]["psnr"] == c.to_dict()
    learned = undersampling.automap_learned(metrics, [1, 4], "test")
    assert learned.passed and learned.gain.b == "mean training image" and learned.model == "AUTOMAP at 1x"
    assert undersampling.exact_methods([1, 4, 8]) == {"1x": "zero-filled"} and undersampling.exact_methods([4]) == {}


def test_undersampling_findings_state_only_what_the_intervals_show():
    # U-Net and AUTOMAP within ±0.6 dB of each other, in both directions: no difference shown at 4x
    metrics = _chapter06_metrics(unet_4x=(23.5, 23.7, 25.4, 24.3))
    comparisons = undersampling.compare_all(metrics, [1, 4], "test")
    learned = undersampling.automap_learned(metrics, [1, 4], "test")
    text = findings.undersampling_findings(learned, comparisons, undersampling.exact_methods([1, 4]))
    assert text.startswith("- AUTOMAP at 1x has learned the reconstruction")
    at_4x = text.split("**4x**")[1]
    assert "No PSNR difference was shown between AUTOMAP and U-Net" in at_4x and "U-Net beats AUTOMAP" not in at_4x
    assert "Zero-filled is exact here" in text and "4 test volumes" in text
    verdict = findings.undersampling_verdict(learned, {"4x": comparisons["4x"]}, ("automap_vs_tv", "automap_vs_unet"))
    assert "4 test volumes" in verdict and "AUTOMAP − U-Net" in verdict and "no difference shown" in verdict
    assert "\n" not in verdict and "inconclusive" not in verdict


def test_undersampling_findings_draw_no_automap_verdict_when_it_did_not_learn():
    metrics = _chapter06_metrics(automap_1x=(18.0, 19.5, 17.0, 18.5))  # about the mean image
    comparisons = undersampling.compare_all(metrics, [1, 4], "test")
    learned = undersampling.automap_learned(metrics, [1, 4], "test")
    assert learned.status == "not learned"
    text = findings.undersampling_findings(learned, comparisons)
    stated = [line for line in text.splitlines() if line.startswith("  - ")]
    assert stated and all("AUTOMAP" not in line for line in stated)  # only U-Net against TV is stated
    assert "inconclusive at this budget" in text
    verdict = findings.undersampling_verdict(learned, {"4x": comparisons["4x"]}, ("automap_vs_tv", "unet_vs_tv"))
    assert verdict.startswith("AUTOMAP against the other methods is inconclusive at this budget")
    assert "U-Net − TV" in verdict and "AUTOMAP − TV" not in verdict


def test_metrics_that_disagree_are_said_to_disagree():
    a = {"per_volume": {f"v{i}": {"psnr": 20.0 + i / 10, "ssim": 0.6, "nmse": 0.1} for i in range(4)}}
    b = {"per_volume": {f"v{i}": {"psnr": 21.0 + i / 10, "ssim": 0.5, "nmse": 0.1 + (-1)**i * 1e-3} for i in range(4)}}
    comps = statistics.compare(a, b, "test", "AUTOMAP", "U-Net")
    assert "the metrics disagree on AUTOMAP against U-Net (PSNR: U-Net, SSIM: AUTOMAP, NMSE: neither)" in \
        findings.pair_finding(comps)
    verdict = findings.undersampling_verdict(_passed(), {"8x": {"automap_vs_unet": comps}}, ("automap_vs_unet", ))
    assert verdict.endswith("PSNR, SSIM and NMSE disagree on AUTOMAP against U-Net at 8x.")
    row = findings.comparison_rows({"AUTOMAP − U-Net": comps})[0]
    assert row["PSNR difference (95 % CI)"].endswith(": U-Net better") and row["volumes"] == 4 and row["split"] == "test"
    assert row["NMSE difference (95 % CI)"].endswith(": no difference shown")


def _passed():
    metrics = _chapter06_metrics()
    return undersampling.automap_learned(metrics, [1], "test")


def test_spread_table_gives_mean_and_two_std_with_enough_volumes():
    ev = {"mean": {"psnr": 20.0}, "std2": {"psnr": 1.5}, "volumes": undersampling.MIN_VOLUMES_FOR_SPREAD}
    table = undersampling.spread_table({"tv": {"4x": ev}, "unet": {"4x": {**ev, "volumes": 2}}})
    assert table == {"4x": {"TV (sigpy)": "20.00 ± 1.50", "U-Net": "20.00"}}


def _ev(volumes, psnr=20.0):
    mean = {"nmse": 0.1, "psnr": psnr, "ssim": 0.5, "psnr_max1": psnr}
    return {"mean": mean, "std2": {k: 0.5 for k in mean}, "volumes": volumes}


def test_results_table_reports_spread_only_with_enough_volumes_and_the_achieved_acceleration():
    seconds = {"tv": {"4x": 0.1}}
    achieved = {"4x": {"a.h5": 4.0, "b.h5": 4.5}}
    few = undersampling.results_table({"tv": {"4x": _ev(2)}}, seconds, achieved)[0]
    assert "PSNR ±2sd" not in few and few["achieved ×"] == pytest.approx(4.25)
    enough = undersampling.results_table({"tv": {"4x": _ev(undersampling.MIN_VOLUMES_FOR_SPREAD)}}, seconds)[0]
    assert enough["PSNR ±2sd"] == 0.5 and "achieved ×" not in enough


def test_grid_edge_note_flags_only_choices_at_an_edge():
    grid = [{"lambda": v, "psnr": 0.0} for v in (1e-3, 1e-2, 1e-1)]
    inside = {4: {"lambda": 1e-2, "grid": grid}}
    assert undersampling.grid_edge_note(inside) == ""
    note = undersampling.grid_edge_note({**inside, 8: {"lambda": 1e-1, "grid": grid}, 1: {"lambda": 1e-3, "grid": grid}})
    assert "8x (λ = 0.1, the largest value tried)" in note and "1x (λ = 0.001, the smallest" in note and "4x" not in note


def test_architecture_study_runs_on_the_device_pipeline(prepared):
    from automap_nb.experiments import architecture

    rows = architecture.run_study(prepared, ["greenberg"], [4], epochs=1, batch_size=4, learning_rate=1e-3, seeds=[0],
                                  mask_kind="random", conv_filters=4, dc_phase=True, pipeline="device", progress=False)
    assert len(rows) == 1 and math.isfinite(rows[0]["val_psnr"]) and rows[0]["acceleration"] == "4x"
