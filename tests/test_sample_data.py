"""Tests of the embedded sample dataset (automap_nb.data.sample_data): real HDF5 files, small builds."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import xml.etree.ElementTree as etree
from pathlib import Path

import h5py
import numpy as np
import pytest

from automap_nb.data import sample_data
from automap_nb.data.sample_data import ACQUISITIONS, MANIFEST_NAME, MAX_SLICES, ORIENTATIONS, WIDTHS, build_sample_dataset
from automap_nb.data.transforms import center_crop, ifft2c
from automap_nb.orchestration.cli import main as cli_main

VOLUMES = 3
SLICES = 2
NS = "http://www.ismrm.org/ISMRMRD"


def ismrmrd_query(root: etree.Element, path: list[str]) -> str:
    """Nested descendant query in the ISMRMRD namespace, as fastMRI's readers look values up."""
    expression = "." + "".join(f"//ismrmrd:{tag}" for tag in path)
    element = root.find(expression, {"ismrmrd": NS})
    assert element is not None, f"{'/'.join(path)} not in header"
    return str(element.text)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read(path: Path) -> dict:
    with h5py.File(path, "r") as hf:
        return {
            "keys": sorted(hf.keys()), "kspace": hf["kspace"][()], "reconstruction_esc": hf["reconstruction_esc"][()],
            "header": hf["ismrmrd_header"][()], "header_shape": hf["ismrmrd_header"].shape, "attrs": dict(hf.attrs)
        }


def leftovers(folder: Path) -> list[str]:
    """Temporary files (hidden ``.NAME.tmp-PID``) left in ``folder``."""
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("sample")
    return out, build_sample_dataset(out, volumes=VOLUMES, slices=SLICES, seed=0, progress=False)


def test_files_and_manifest(built):
    out, paths = built
    assert [p.name for p in paths] == ["file1000001.h5", "file1000002.h5", "file1000003.h5"]
    assert all(p.parent == out and p.is_file() for p in paths)
    names = sorted([MANIFEST_NAME] + [p.name for p in paths])
    assert sorted(p.name for p in out.iterdir()) == names
    manifest = json.loads((out / MANIFEST_NAME).read_text())
    assert (manifest["seed"], manifest["volumes"], manifest["slices"]) == (0, VOLUMES, SLICES)
    assert manifest["generator_version"] == sample_data.GENERATOR_VERSION
    assert "ICBM152 2009a" in manifest["template"]["name"]
    assert "Louis Collins" in manifest["template"]["copyright"]
    assert manifest["template"]["licence"]


def test_schema(built):
    _, paths = built
    for path in paths:
        data = read(path)
        assert data["keys"] == ["ismrmrd_header", "kspace", "reconstruction_esc"]
        kspace, recon = data["kspace"], data["reconstruction_esc"]
        assert kspace.dtype == np.complex64 and kspace.ndim == 3
        slices, rows, width = kspace.shape
        assert (slices, rows) == (SLICES, 640) and width in WIDTHS and width % 2 == 0
        assert recon.dtype == np.float32 and recon.shape == (SLICES, 320, 320)
        attrs = data["attrs"]
        assert set(attrs) == {"acquisition", "max", "norm", "patient_id"}
        assert attrs["acquisition"] in ACQUISITIONS
        assert attrs["max"] == pytest.approx(float(recon.max()), rel=1e-6)
        assert attrs["norm"] == pytest.approx(float(np.linalg.norm(recon)), rel=1e-5)
        assert isinstance(attrs["patient_id"], str) and len(attrs["patient_id"]) == 64
        int(attrs["patient_id"], 16)
        assert 1e-5 < attrs["max"] < 1e-3  # fastMRI-like magnitudes, of order 1e-4


def test_header_reads_like_fastmri(built):
    _, paths = built
    for path in paths:
        data = read(path)
        assert data["header_shape"] == () and isinstance(data["header"], bytes)
        root = etree.fromstring(data["header"])
        assert root.tag == f"{{{NS}}}ismrmrdHeader"
        # top-level elements in the ISMRMRD schema's sequence order
        tags = [child.tag.split("}")[1] for child in root if isinstance(child.tag, str)]
        assert tags == ["measurementInformation", "acquisitionSystemInformation", "experimentalConditions", "encoding"]
        width = data["kspace"].shape[-1]
        enc = ["encoding", "encodedSpace", "matrixSize"]
        rec = ["encoding", "reconSpace", "matrixSize"]
        enc_size = tuple(int(ismrmrd_query(root, enc + [a])) for a in "xyz")
        recon_size = tuple(int(ismrmrd_query(root, rec + [a])) for a in "xyz")
        assert enc_size == (640, width, 1)
        assert recon_size == (320, 320, 1)
        lims = ["encoding", "encodingLimits", "kspace_encoding_step_1"]
        assert int(ismrmrd_query(root, lims + ["minimum"])) == 0
        centre = int(ismrmrd_query(root, lims + ["center"]))
        maximum = int(ismrmrd_query(root, lims + ["maximum"])) + 1
        assert centre == width // 2
        padding_left = enc_size[1] // 2 - centre
        padding_right = padding_left + maximum
        assert (padding_left, padding_right) == (0, width)
        for space in ("encodedSpace", "reconSpace"):
            for axis in "xyz":
                assert float(ismrmrd_query(root, ["encoding", space, "fieldOfView_mm", axis])) > 0
        assert ismrmrd_query(root, ["encoding", "trajectory"]) == "cartesian"
        protocol = ismrmrd_query(root, ["measurementInformation", "protocolName"])
        assert protocol == data["attrs"]["acquisition"]


def test_reconstruction_matches_kspace(built):
    _, paths = built
    for path in paths:
        data = read(path)
        expected = np.abs(center_crop(ifft2c(data["kspace"].astype(np.complex128)), (320, 320)))
        recon = data["reconstruction_esc"]
        np.testing.assert_allclose(recon, expected, rtol=1e-5, atol=1e-5 * float(expected.max()))


def test_anatomy_and_noise(built):
    _, paths = built
    for path in paths:
        data = read(path)
        recon = data["reconstruction_esc"]
        for image in recon:
            centre = image[100:220, 100:220].mean()
            corners = np.concatenate([image[:24, :24], image[:24, -24:], image[-24:, :24], image[-24:, -24:]]).mean()
            assert centre > 20 * corners, f"{path.name}: no anatomy in the centre"
        # rows outside the central 320 of the 640-row (oversampled) image hold only noise
        image = ifft2c(data["kspace"].astype(np.complex128))
        outside = np.concatenate([image[:, :150], image[:, -150:]], axis=1)
        sigma = np.sqrt(np.mean(np.abs(outside)**2))
        ratio = sigma / np.mean(np.abs(center_crop(image, 320)))
        assert 0.005 < ratio < 0.03, f"{path.name}: noise/mean = {ratio:.4f}"
        # a smooth, non-constant phase over the anatomy (noise alone gives ~0.02 rad)
        crop = center_crop(image, 320)
        anatomy = crop[np.abs(crop) > 0.3 * np.abs(crop).max()]
        spread = np.std(np.angle(anatomy * np.exp(-1j * np.angle(anatomy.mean()))))
        assert 0.05 < spread < 1.5, f"{path.name}: phase spread {spread:.3f} rad"


def test_random_choices_cover_the_options():
    params = [sample_data._draw_volume_parameters(0, i) for i in range(1, 80)]
    assert {p["width"] for p in params} == set(WIDTHS)
    assert {p["orientation"] for p in params} == set(ORIENTATIONS)
    assert {p["acquisition"] for p in params} == set(ACQUISITIONS)


def test_deterministic_and_independent_per_volume(built, tmp_path):
    out, paths = built
    again = build_sample_dataset(tmp_path / "again", volumes=VOLUMES, slices=SLICES, seed=0, progress=False)
    for a, b in zip(paths, again):
        assert digest(a) == digest(b)
        da, db = read(a), read(b)
        assert np.array_equal(da["kspace"], db["kspace"])
        assert np.array_equal(da["reconstruction_esc"], db["reconstruction_esc"])
        assert da["attrs"] == db["attrs"] and da["header"] == db["header"]
    assert (out / MANIFEST_NAME).read_bytes() == (tmp_path / "again" / MANIFEST_NAME).read_bytes()
    # fewer volumes: the same first files (volume i depends only on (seed, i))
    fewer = build_sample_dataset(tmp_path / "fewer", volumes=2, slices=SLICES, progress=False)
    assert [digest(p) for p in fewer] == [digest(p) for p in paths[:2]]
    # another seed: other data
    other = build_sample_dataset(tmp_path / "other", 1, SLICES, seed=1, progress=False)
    first, changed = read(paths[0]), read(other[0])
    assert first["attrs"]["patient_id"] != changed["attrs"]["patient_id"]
    assert first["kspace"].shape != changed["kspace"].shape or not np.array_equal(first["kspace"], changed["kspace"])


def test_skip_existing_and_force(tmp_path):
    paths = build_sample_dataset(tmp_path, volumes=2, slices=1, seed=3, progress=False)
    before = [(p.stat().st_ino, p.stat().st_mtime_ns, digest(p)) for p in paths]
    again = build_sample_dataset(tmp_path, volumes=2, slices=1, seed=3, progress=False)
    assert again == paths
    assert [(p.stat().st_ino, p.stat().st_mtime_ns, digest(p)) for p in paths] == before
    forced = build_sample_dataset(tmp_path, volumes=2, slices=1, seed=3, force=True, progress=False)
    after = [(p.stat().st_ino, digest(p)) for p in forced]
    assert [a[0] for a in after] != [b[0] for b in before]  # rewritten (new files renamed in place)
    assert [a[1] for a in after] == [b[2] for b in before]  # with identical content
    # an existing file built with other parameters is not silently kept
    with pytest.raises(ValueError, match="force=True"):
        build_sample_dataset(tmp_path, volumes=2, slices=1, seed=4, progress=False)
    with pytest.raises(ValueError, match="force=True"):
        build_sample_dataset(tmp_path, volumes=2, slices=2, seed=3, progress=False)
    rebuilt = build_sample_dataset(tmp_path, 1, 2, seed=3, force=True, progress=False)
    assert read(rebuilt[0])["kspace"].shape[0] == 2
    assert leftovers(tmp_path) == []


def test_failure_mid_write_leaves_nothing(tmp_path, monkeypatch):

    def broken_header(*args, **kwargs):
        raise RuntimeError("simulated failure while the HDF5 file is open")

    # the header is made inside the open file, after kspace and reconstruction_esc were written
    monkeypatch.setattr(sample_data, "ismrmrd_header", broken_header)
    with pytest.raises(RuntimeError, match="simulated failure"):
        build_sample_dataset(tmp_path, volumes=2, slices=1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_failure_on_second_volume_keeps_first(tmp_path, monkeypatch):
    real = sample_data._write_volume

    def fail_second(path, volume, slices):
        if volume["attrs"]["patient_id"] == second_id:
            with h5py.File(path, "w") as hf:  # file exists and is half written when it fails
                hf.create_dataset("kspace", data=volume["kspace"])
            raise KeyboardInterrupt
        real(path, volume, slices)

    second_id = sample_data.simulate_volume(2, 1, 0)["attrs"]["patient_id"]
    monkeypatch.setattr(sample_data, "_write_volume", fail_second)
    with pytest.raises(KeyboardInterrupt):
        build_sample_dataset(tmp_path, volumes=3, slices=1, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file1000001.h5"]
    assert read(tmp_path / "file1000001.h5")["kspace"].shape[0] == 1


def test_stale_temporary_of_dead_process_is_removed(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".file1000001.h5.tmp-{dead.pid}"
    stale.write_bytes(b"half written")
    build_sample_dataset(tmp_path, volumes=1, slices=1, progress=False)
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize(("kwargs", "name"), [({"volumes": 0}, "volumes"), ({"volumes": 2.5}, "volumes"),
                                              ({"volumes": "3"}, "volumes"), ({"slices": 0}, "slices"),
                                              ({"slices": MAX_SLICES + 1}, "slices"), ({"seed": -1}, "seed"),
                                              ({"seed": None}, "seed"), ({"force": "yes"}, "force"), ({"progress": 1}, "progress")])
def test_bad_parameters(tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=name) as info:
        build_sample_dataset(tmp_path / "out", **kwargs)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "out").exists()


def test_bad_out_dir(tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for bad in (a_file, None, ""):
        with pytest.raises(ValueError, match="out_dir"):
            build_sample_dataset(bad, volumes=1, slices=1, progress=False)


def test_command_line(tmp_path, capsys):
    assert cli_main(["sample-data", "--out", str(tmp_path), "--volumes", "1", "--slices", "1", "--quiet"]) == 0
    assert (tmp_path / "file1000001.h5").is_file()
    with pytest.raises(SystemExit) as info:
        cli_main(["sample-data", "--out", str(tmp_path), "--volumes", "0"])
    assert info.value.code == 2
    assert "volumes" in capsys.readouterr().err


# ---- compact storage (the gpu profile's data) ----------------------------------------------------


@pytest.fixture(scope="module")
def compact(tmp_path_factory, built) -> list[Path]:
    out = tmp_path_factory.mktemp("compact")
    return build_sample_dataset(out, volumes=VOLUMES, slices=SLICES, seed=0, progress=False, compact=True, workers=2)


def test_compact_is_the_full_volume_band_limited_in_the_same_schema(built, compact):
    from automap_nb.data import mri_data

    _, full_paths = built
    for full_path, path in zip(full_paths, compact):
        full, data = read(full_path), read(path)
        assert data["keys"] == full["keys"] and data["header_shape"] == full["header_shape"]
        assert data["kspace"].dtype == np.complex64 and data["kspace"].shape == full["kspace"].shape
        assert data["reconstruction_esc"].dtype == np.float32 and data["reconstruction_esc"].shape == (SLICES, 320, 320)
        width = full["kspace"].shape[-1]
        rows = slice(320 - sample_data.COMPACT_ROWS // 2, 320 + sample_data.COMPACT_ROWS // 2)
        cols = slice(width // 2 - sample_data.COMPACT_COLUMNS // 2, width // 2 + sample_data.COMPACT_COLUMNS // 2)
        band = np.zeros_like(full["kspace"])
        band[:, rows, cols] = full["kspace"][:, rows, cols]
        assert np.array_equal(data["kspace"], band)
        expected = np.abs(center_crop(ifft2c(band.astype(np.complex128)), (320, 320)))
        np.testing.assert_allclose(data["reconstruction_esc"], expected, rtol=1e-5, atol=1e-5 * float(expected.max()))
        assert set(data["attrs"]) == set(full["attrs"]) and data["attrs"]["patient_id"] == full["attrs"]["patient_id"]
        assert data["attrs"]["max"] == pytest.approx(float(data["reconstruction_esc"].max()), rel=1e-6)
        with h5py.File(path, "r") as hf:
            assert hf["kspace"].compression == "gzip" and hf["kspace"].chunks == (1, 640, width)
        info = mri_data.read_volume_info(path)  # the project's own reader: fully sampled, header padding
        assert not info.undersampled
        assert (info.padding_left, info.padding_right) == (cols.start, cols.stop)
        for index in range(SLICES):
            mri_data.check_kspace_values(mri_data.read_kspace_slice(info, index), f"{path.name}[{index}]")
        assert path.stat().st_size < 0.5 * full_path.stat().st_size
    manifest = json.loads((compact[0].parent / MANIFEST_NAME).read_text())
    assert manifest["compact"] is True


def test_compact_data_refuse_a_prepared_size_they_cannot_serve(compact, tmp_path):
    from automap_nb.data import prepare

    folder = compact[0].parent
    too_big = sample_data.COMPACT_MAX_SIZE + 2
    with pytest.raises(ValueError, match=rf"compact sample data serve prepared sizes up to 128, got size {too_big}"):
        prepare.prepare_dataset(folder, tmp_path / "p.h5", size=too_big, progress=False)
    assert not (tmp_path / "p.h5").exists()


def test_parallel_build_is_byte_identical_and_kinds_do_not_mix(compact, tmp_path):
    serial = build_sample_dataset(tmp_path / "serial", volumes=VOLUMES, slices=SLICES, progress=False, compact=True)
    assert [digest(p) for p in serial] == [digest(p) for p in compact]
    assert not leftovers(compact[0].parent)
    with pytest.raises(ValueError, match="compact=False"):
        build_sample_dataset(compact[0].parent, volumes=1, slices=SLICES, progress=False)


@pytest.mark.parametrize("kwargs, name", [({"workers": 0}, "workers"), ({"workers": 1.5}, "workers"),
                                          ({"compact": "yes"}, "compact")])
def test_bad_compact_and_workers(tmp_path, kwargs, name):
    with pytest.raises(ValueError, match=name) as info:
        build_sample_dataset(tmp_path / "out", volumes=1, slices=1, progress=False, **kwargs)
    assert "\n" not in str(info.value) and not (tmp_path / "out").exists()


def test_worker_failure_leaves_no_partial_file(tmp_path, monkeypatch):

    def broken(index, slices, seed, compact):
        if index == 2:
            raise RuntimeError("simulated failure")
        return real(index, slices, seed, compact)

    real = sample_data.simulate_volume
    monkeypatch.setattr(sample_data, "simulate_volume", broken)  # forked workers inherit the patch
    with pytest.raises(RuntimeError, match="simulated failure"):
        build_sample_dataset(tmp_path, volumes=3, slices=1, progress=False, compact=True, workers=2)
    assert not leftovers(tmp_path) and not (tmp_path / MANIFEST_NAME).exists()
    assert not (tmp_path / "file1000002.h5").exists()


def test_patient_ids_are_stable_across_releases():
    """The ids decide the train/val/test split (hashed per patient): a change would silently move volumes
    between splits and change every number in the book. Value of the first build (seed 0, volume 1)."""
    assert sample_data._patient_id(0, 1) == "2452c865399f10bdb903c857841c9d9776086cabcebf3f8a242718f4b41b9f15"
