"""Baselines, U-Net and chapter 06/07 helpers: zero-filled, TV on a phantom, tiny training runs."""

import math

import h5py
import numpy as np
import pytest
from skimage.data import shepp_logan_phantom
from skimage.transform import resize

from automap_nb import baselines, evaluate, training
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
    model, history = undersampling.train_method("unet", [4, 8], prepared, tmp_path / "unet", mask_kind="random", variant="seed",
                                                unet_chans=4, epochs=2, batch_size=4, learning_rate=1e-3, seed=0, progress=False)
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
                                                variant="seed", unet_chans=4, epochs=1, batch_size=4, learning_rate=2e-4, seed=0,
                                                progress=False)
    assert history["config"]["mask_fn"] == "equispaced_4x"
    assert math.isfinite(history["epochs"][0]["loss"])
    assert model.count_params() == history["config"]["params"]


def test_device_pipeline_trains_automap_only(prepared, tmp_path):
    common = dict(mask_kind="equispaced", variant="seed", unet_chans=4, epochs=1, batch_size=4, learning_rate=2e-4, seed=0,
                  progress=False, pipeline="device")
    _, history = undersampling.train_method("automap", [4], prepared, tmp_path / "automap", **common)
    assert history["config"]["pipeline"] == "device" and math.isfinite(history["epochs"][0]["loss"])
    _, history = undersampling.train_method("unet", [4], prepared, tmp_path / "unet", **common)
    assert history["config"]["pipeline"] == "numpy"  # its zero-filled inputs are a numpy transform


def test_automap_can_train_on_the_slices_as_they_are(prepared, tmp_path):
    common = dict(mask_kind="random", variant="seed", unet_chans=4, epochs=1, batch_size=4, learning_rate=2e-4, seed=0,
                  progress=False)
    _, history = undersampling.train_method("automap", [4, 8], prepared, tmp_path / "plain", augment=False, **common)
    assert history["config"]["augment"] is False and math.isfinite(history["epochs"][0]["loss"])
    _, history = undersampling.train_method("automap", [4, 8], prepared, tmp_path / "tiled", **common)
    assert history["config"]["augment"] is True  # the seed's reflection-tiling crops by default


def test_fine_tuning_starts_from_chapter_03s_model_only_when_built_alike(prepared, tmp_path):
    from automap_nb import models

    source = models.build_variant("seed", 16, seed=1, conv_filters=4, dc_phase=True)
    training.train(source, prepared, tmp_path / "ch03", epochs=1, batch_size=4, learning_rate=1e-3, progress=False)
    tuned = undersampling.build_method_model("automap", 16, "seed", 4, seed=0, conv_filters=4, init_from=tmp_path / "ch03",
                                             dc_phase=True)
    for mine, theirs in zip(tuned.get_weights(), source.get_weights()):
        np.testing.assert_array_equal(mine, theirs)
    with pytest.raises(ValueError, match="dc_phase=True.*dc_phase=False"):  # the weights alone would fit
        undersampling.build_method_model("automap", 16, "seed", 4, seed=0, conv_filters=4, init_from=tmp_path / "ch03")
    with pytest.raises(ValueError, match="train_conv_filters"):
        undersampling.build_method_model("automap", 16, "seed", 4, seed=0, conv_filters=8, init_from=tmp_path / "ch03",
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


def _metrics(psnrs):
    return {m: {k: {"mean": {"psnr": v}} for k, v in by.items()} for m, by in psnrs.items()}


def test_undersampling_findings_follow_the_numbers():
    base = {"mean_image": {"1x": 17.0, "4x": 17.0}, "zero_filled": {"1x": 140.0, "4x": 20.0}, "tv": {"1x": 60.0, "4x": 22.0}}
    unet_wins = _metrics({**base, "unet": {"1x": 40.0, "4x": 24.0}, "automap": {"1x": 30.0, "4x": 18.0}})
    text = undersampling.findings(unet_wins, [1, 4], {"unet": 10, "automap": 100}, 130, {"unet": 1, "automap": 1})
    assert "U-Net beats AUTOMAP" in text and "10.0× fewer" in text
    assert "AUTOMAP is *below* the zero-filled baseline at 1x, 4x after 1 epoch on 130 slices" in text
    text = undersampling.findings(unet_wins, [1, 4], {"unet": 10, "automap": 100}, 130, {"unet": 1, "automap": "a phrase"})
    assert "AUTOMAP is *below* the zero-filled baseline at 1x, 4x after a phrase on 130 slices" in text
    automap_wins = _metrics({**base, "unet": {"1x": 40.0, "4x": 21.0}, "automap": {"1x": 30.0, "4x": 23.0}})
    text = undersampling.findings(automap_wins, [1, 4], {"unet": 10, "automap": 100}, 130, {"unet": 1, "automap": 1})
    assert "AUTOMAP beats the U-Net" in text and "U-Net beats AUTOMAP" not in text
    assert "beat the mean training image" not in text  # both learned methods beat it everywhere
    trivial = _metrics({**base, "unet": {"1x": 40.0, "4x": 21.0}, "automap": {"1x": 16.0, "4x": 17.0}})
    text = undersampling.findings(trivial, [1, 4], {"unet": 10, "automap": 100}, 130, {"unet": 1, "automap": 1})
    assert "AUTOMAP does *not* beat the mean training image at 1x, 4x" in text


def _ev(volumes, psnr=20.0):
    mean = {"nmse": 0.1, "psnr": psnr, "ssim": 0.5, "psnr_seed": psnr}
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

    rows = architecture.run_study(prepared, ["seed"], [4], epochs=1, batch_size=4, learning_rate=1e-3, seeds=[0],
                                  mask_kind="random", conv_filters=4, dc_phase=True, pipeline="device", progress=False)
    assert len(rows) == 1 and math.isfinite(rows[0]["val_psnr"]) and rows[0]["acceleration"] == "4x"
