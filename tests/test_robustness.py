"""Issue 11: nothing lost, nothing stale, one clear line for every bad input, fastMRI's own folders.

Every case uses real HDF5 files in the fastMRI schema (``fastmri_files``), real commands (the
``automap-nb`` CLI in a subprocess, or the package's public functions) and real processes (kill -9),
no mocks. CLI errors must be one line on stderr, exit status 2, and name the file or option.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import nbformat
import numpy as np
import pytest
from fastmri_files import write_fastmri_file
from notebook_files import write_notebook

from automap_nb import results
from automap_nb.data import mri_data, prepare
from automap_nb.data.mri_data import DataError
from automap_nb.orchestration import book, runner
from automap_nb.orchestration.params import ParameterError

REPO = Path(__file__).resolve().parent.parent

# ---- helpers ---------------------------------------------------------------------------------------


def cli(*args, cwd=None, timeout=300):
    """Run ``automap-nb ARGS`` in a fresh process; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "automap_nb", *map(str, args)], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-3000:]
    assert lines[0].startswith("automap-nb: error: ") and "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def folder(tmp_path, name, count, seed0=0, slices=2, prefix="file1"):
    path = tmp_path / name
    path.mkdir(parents=True)
    for i in range(count):
        write_fastmri_file(path / f"{prefix}{seed0 + i:06d}.h5", slices=slices, seed=seed0 + i)
    return path


@pytest.fixture
def small_notebooks(tmp_path):
    """Two throw-away chapters that read ``data_dir`` (01) and sleep ``pause`` seconds (02)."""
    nbs = tmp_path / "repo" / "notebooks"
    nbs.mkdir(parents=True)
    write_notebook(nbs / "01_first.ipynb", 'run_dir = "."\ndata_dir = "."\nseed = 0',
                   "from pathlib import Path\nPath(run_dir, 'first.txt').write_text(str(sorted(Path(data_dir).glob('*.h5'))))")
    write_notebook(nbs / "02_second.ipynb", 'run_dir = "."\nseed = 0\npause = 0',
                   "import time\ntime.sleep(pause)\nfrom pathlib import Path\nPath(run_dir, 'second.txt').write_text('done')")
    return nbs


def dead_pid() -> int:
    """The PID of a process that has exited (its temporary files are 'left by a killed process')."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ---- 1. no data loss: book --build-dir --------------------------------------------------------------


def fake_complete_run(tmp_path) -> Path:
    """A run folder holding every chapter (unexecuted copies: enough to reach the build folder)."""
    run = tmp_path / "run"
    run.mkdir()
    for nb in runner.list_notebooks():
        shutil.copy(nb, run / nb.name)
    return run


def test_book_never_deletes_the_users_files(tmp_path):
    run = fake_complete_run(tmp_path)
    build = tmp_path / "u"
    mine = build / "source" / "mine" / "notes.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("x")
    (build / "html").mkdir()
    (build / "html" / "keep.html").write_text("y")
    result = cli("book", "--run", run, "--build-dir", build)
    assert_one_line_error(result, f"--build-dir {build}", "not made by `automap-nb book`")
    assert mine.read_text() == "x" and (build / "html" / "keep.html").read_text() == "y"


def test_book_build_dir_that_is_a_file(tmp_path):
    run = fake_complete_run(tmp_path)
    (tmp_path / "afile").write_text("z")
    assert_one_line_error(cli("book", "--run", run, "--build-dir", tmp_path / "afile"), "--build-dir", "afile")
    assert (tmp_path / "afile").read_text() == "z"


# ---- 2. undersampled files -----------------------------------------------------------------------


def make_test_set_file(path, slices=2, acceleration=4):
    """A fastMRI test/challenge-style file: 'mask' dataset, unsampled columns zeroed, no attrs."""
    write_fastmri_file(path, slices=slices)
    with h5py.File(path, "a") as f:
        width = f["kspace"].shape[-1]
        mask = np.zeros(width, bool)
        mask[::acceleration] = True
        mask[width // 2 - 8:width // 2 + 8] = True
        f["kspace"][...] = f["kspace"][()] * mask
        f.create_dataset("mask", data=mask)
        del f["reconstruction_esc"]
    return path


def test_undersampled_file_with_mask_dataset_is_refused(tmp_path):
    data = folder(tmp_path, "data", 3)
    make_test_set_file(data / "file1000099.h5")
    with pytest.raises(DataError, match=r"file1000099.h5: k-space is undersampled \(it has a 'mask' dataset\)"):
        prepare.prepare_dataset(data, tmp_path / "p.h5", size=16, progress=False)
    with pytest.raises(DataError, match="file1000099.h5: k-space is undersampled"):
        mri_data.index_folder(data)  # chapter 01 refuses it too
    result = cli("prepare", "--data-dir", data, "--out", tmp_path / "out" / "p.h5", "--size", 16, "--quiet")
    assert_one_line_error(result, "file1000099.h5", "undersampled")
    assert not (tmp_path / "out").exists()


def test_zeroed_columns_without_mask_are_refused(tmp_path):
    path = make_test_set_file(tmp_path / "vol.h5")
    with h5py.File(path, "a") as f:
        del f["mask"]
    info = mri_data.read_volume_info(path)
    with pytest.raises(DataError, match=r"vol.h5, slice 0: \d+ of \d+ phase-encode columns .* are all zero"):
        mri_data.read_kspace_slice(info, 0)


# ---- 3. stale results ----------------------------------------------------------------------------


def test_training_refuses_a_model_trained_on_other_data(tmp_path):
    from automap_nb import models, training

    prepared = tmp_path / "run" / "prepared.h5"
    a = folder(tmp_path, "a", 4, slices=3)
    b = folder(tmp_path, "b", 4, seed0=20, slices=3)
    prepare.prepare_dataset(a, prepared, size=8, fractions=(0.5, 0.25, 0.25), progress=False)
    train = dict(epochs=1, batch_size=2, seed=0, progress=False)
    training.train(models.build_variant("greenberg", 8, seed=0), prepared, tmp_path / "run" / "automap", **train)
    # the same data again: resumes (nothing to do)
    prepare.prepare_dataset(a, prepared, size=8, fractions=(0.5, 0.25, 0.25), progress=False)
    training.train(models.build_variant("greenberg", 8, seed=0), prepared, tmp_path / "run" / "automap", **train)
    # other data in the same run folder: refused, naming the folder and the fingerprint
    prepare.prepare_dataset(b, prepared, size=8, fractions=(0.5, 0.25, 0.25), progress=False)
    with pytest.raises(ValueError, match=r"automap: was trained with data_fingerprint='[0-9a-f]+', now"):
        training.train(models.build_variant("greenberg", 8, seed=0), prepared, tmp_path / "run" / "automap", **train)


def test_run_refuses_other_data_in_a_used_run_folder(tmp_path, small_notebooks):
    a, b = folder(tmp_path, "a", 1), folder(tmp_path, "b", 1, seed0=5)
    run = tmp_path / "run"
    runner.run_notebooks(run, profile="quick", data_dir=a, notebooks_dir=small_notebooks, progress=False)
    before = {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.name != runner.LOCK_NAME}
    with pytest.raises(runner.RunError, match=r"run holds results computed from other data .*use another --out"):
        runner.run_notebooks(run, profile="quick", data_dir=b, notebooks_dir=small_notebooks, progress=False)
    assert {p.name: p.stat().st_mtime_ns for p in run.iterdir() if p.name != runner.LOCK_NAME} == before  # nothing was touched
    # a file of the data folder rewritten counts as other data too
    write_fastmri_file(a / "file1000000.h5", slices=3, seed=9)
    with pytest.raises(runner.RunError, match="other data"):
        runner.run_notebooks(run, profile="quick", data_dir=a, notebooks_dir=small_notebooks, progress=False)


def test_book_refuses_chapters_from_other_data_or_parameters(tmp_path, small_notebooks):
    a = folder(tmp_path, "a", 1)
    run = tmp_path / "run"
    runner.run_notebooks(run, profile="quick", data_dir=a, notebooks_dir=small_notebooks, progress=False)
    book.check_run_complete(run, small_notebooks.parent)  # complete and consistent
    runner.run_notebooks(run, profile="quick", data_dir=a, notebooks_dir=small_notebooks, only=["02"], overrides={"seed": 3},
                         progress=False)
    with pytest.raises(book.BookError, match=r"different values of parameter 'seed'"):
        book.stage_sources(run, tmp_path / "_build", repo_root=small_notebooks.parent)


# ---- 4. corrupt but finite values ----------------------------------------------------------------


def test_one_huge_finite_value_is_refused_naming_file_and_slice(tmp_path):
    data = folder(tmp_path, "data", 3, slices=3)
    with h5py.File(data / "file1000001.h5", "a") as f:
        k = f["kspace"][1]
        k[37, 11] = 3e30  # a few corrupt bytes: a huge but finite float
        f["kspace"][1] = k
    with pytest.raises(DataError, match=r"file1000001.h5, slice 1: one k-space sample .* corrupt values"):
        prepare.prepare_dataset(data, tmp_path / "p.h5", size=16, progress=False)
    assert not (tmp_path / "p.h5").exists()


def test_a_slice_far_brighter_than_its_volume_is_refused(tmp_path):
    data = folder(tmp_path, "data", 3, slices=4)
    with h5py.File(data / "file1000002.h5", "a") as f:
        f["kspace"][2] = f["kspace"][2] * np.float32(1e5)  # every value finite, the slice 1e10 × the energy
    with pytest.raises(DataError, match=r"file1000002.h5, slice 2: k-space energy is .* the median of the volume's"):
        prepare.prepare_dataset(data, tmp_path / "p.h5", size=16, progress=False)


def test_plausible_data_passes_the_checks(tmp_path, quick_data):
    # the sample data and third-party files are far inside the limits
    for info in mri_data.index_folder(quick_data)[:2] + mri_data.index_folder(folder(tmp_path, "d", 1, slices=3)):
        energies = [np.sum(np.abs(mri_data.read_kspace_slice(info, i).astype(np.complex128))**2) for i in range(info.num_slices)]
        mri_data.check_slice_energies(info.path, energies)


# ---- 5. no leaks after kill -9 -------------------------------------------------------------------


def test_stale_prepare_temporary_is_removed(tmp_path):
    data = folder(tmp_path, "data", 3)
    out = tmp_path / "run" / "prepared.h5"
    out.parent.mkdir()
    stale = out.with_name(f".prepared.h5.tmp-{dead_pid()}")
    stale.write_bytes(b"\0" * 4096)
    live = out.with_name(f".prepared.h5.tmp-{os.getppid()}")  # a running writer's file stays
    live.write_bytes(b"\0")
    prepare.prepare_dataset(data, out, size=16, progress=False)
    assert out.is_file() and not stale.exists() and live.exists()


def test_killed_training_leaves_its_checkpoints_in_the_run_folder_and_the_next_run_removes_them(tmp_path, small_notebooks):
    data = folder(tmp_path, "data", 6, slices=2)
    run = tmp_path / "run"
    prepare.prepare_dataset(data, run / "prepared.h5", size=8, fractions=(0.5, 0.25, 0.25), progress=False)
    tmp_before = set(Path("/tmp").glob("06_training-*"))
    code = (f"from automap_nb.experiments import undersampling\n"
            f"undersampling.train_all({str(run / 'prepared.h5')!r}, [[1, 4]], {str(run)!r}, keep_checkpoints=False,"
            f" progress=False, mask_kind='random', variant='greenberg', unet_chans=2, batch_size=2, seed=0,"
            f" unet={{'epochs': 500, 'learning_rate': 1e-3}}, automap={{'epochs': 500, 'learning_rate': 1e-3}})\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    scratch = run / results.SCRATCH_NAME / f"06_training-{proc.pid}"
    deadline = time.time() + 120
    while time.time() < deadline and not list(scratch.glob("*/initial.keras")):
        assert proc.poll() is None, "training ended before it could be killed"
        time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(scratch.glob("*/initial.keras")), "no checkpoints in the run folder's scratch space"
    assert set(Path("/tmp").glob("06_training-*")) == tmp_before  # nothing in /tmp
    # the next run in that folder removes what the killed process left
    runner.run_notebooks(run, profile="quick", data_dir=data, notebooks_dir=small_notebooks, only=["02"], progress=False)
    assert not scratch.exists()


# ---- 6. run.json agrees with the folder --------------------------------------------------------


def test_only_keeps_the_other_chapters_records(tmp_path, small_notebooks):
    data = folder(tmp_path, "data", 1)
    run = tmp_path / "run"
    runner.run_notebooks(run, profile="quick", data_dir=data, notebooks_dir=small_notebooks, progress=False)
    runner.run_notebooks(run, profile="quick", data_dir=data, notebooks_dir=small_notebooks, only=["02"], progress=False)
    record = json.loads((run / "run.json").read_text())
    assert set(record["notebooks"]) == {"01_first.ipynb", "02_second.ipynb"}
    assert all(nb["status"] == "ok" for nb in record["notebooks"].values())


def test_a_killed_chapter_makes_the_run_incomplete(tmp_path, small_notebooks):
    data = folder(tmp_path, "data", 1)
    run = tmp_path / "run"
    runner.run_notebooks(run, profile="quick", data_dir=data, notebooks_dir=small_notebooks, progress=False)
    code = ("from automap_nb.orchestration import runner\n"
            f"runner.run_notebooks({str(run)!r}, profile='quick', data_dir={str(data)!r}, "
            f"notebooks_dir={str(small_notebooks)!r}, only=['02'], overrides={{'pause': 60}}, progress=False)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    out = run / "02_second.ipynb"
    good = out.read_text()
    deadline = time.time() + 90
    while time.time() < deadline:  # the rerun executes into a temporary copy, renamed only when complete
        if any("pause = 60" in tmp.read_text() for tmp in run.glob(".02_second.ipynb.tmp-*.ipynb")):
            break
        time.sleep(0.5)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    record = json.loads((run / "run.json").read_text())
    assert record["notebooks"]["02_second.ipynb"]["status"] == "running"
    assert out.read_text() == good  # the good notebook is still there
    with pytest.raises(
            book.BookError, match=r"the run is incomplete: 02_second.ipynb \(running\); "
            r"rerun them: automap-nb run --out .* --only 02"):
        book.stage_sources(run, tmp_path / "_build", repo_root=small_notebooks.parent)
    assert not (tmp_path / "_build").exists()


def test_pending_cells_make_the_run_incomplete_even_without_a_record(tmp_path, small_notebooks):
    data = folder(tmp_path, "data", 1)
    run = tmp_path / "run"
    runner.run_notebooks(run, profile="quick", data_dir=data, notebooks_dir=small_notebooks, progress=False)
    (run / "run.json").unlink()
    nb = nbformat.read(run / "02_second.ipynb", as_version=4)
    nb.cells[-1].metadata["papermill"]["status"] = "pending"
    nbformat.write(nb, run / "02_second.ipynb")
    with pytest.raises(book.BookError, match=r"02_second.ipynb \(1 cell\(s\) not completed\)"):
        book.stage_sources(run, tmp_path / "_build", repo_root=small_notebooks.parent)


# ---- 7. one-line errors naming the file or option ------------------------------------------------


def test_corrupt_hdf5_metadata_names_the_file(tmp_path):
    data = folder(tmp_path, "data", 2)
    bad = data / "file1000001.h5"
    with h5py.File(bad, "r") as f:
        address = h5py.h5o.get_info(f["kspace"].id).addr
    with open(bad, "r+b") as handle:
        handle.seek(address)
        handle.write(b"\xde\xad\xbe\xef" * 8)
    with pytest.raises(DataError, match=r"file1000001.h5: corrupt HDF5 metadata \(bad object header"):
        mri_data.index_folder(data)
    assert_one_line_error(cli("prepare", "--data-dir", data, "--out", tmp_path / "p.h5", "--quiet"),
                          "file1000001.h5: corrupt HDF5 metadata")


def test_open_failures_keep_hdf5s_reason(tmp_path):
    good = write_fastmri_file(tmp_path / "good.h5", slices=2)
    (tmp_path / "truncated.h5").write_bytes(good.read_bytes()[:3000])
    (tmp_path / "garbage.h5").write_bytes(b"\x00garbage" * 100)
    messages = {}
    for name in ("truncated.h5", "garbage.h5"):
        with pytest.raises(DataError) as err:
            mri_data.read_volume_info(tmp_path / name)
        messages[name] = str(err.value)
    assert "file signature not found" in messages["garbage.h5"]
    assert "truncated file" in messages["truncated.h5"]


@pytest.mark.parametrize("problem, match", [("acquisition_number", "attribute 'acquisition' must be text, got int 5"),
                                            ("patient_latin1", "attribute 'patient_id' is not UTF-8 text"),
                                            ("header_array", "'ismrmrd_header' must be XML text, got ndarray of dtype int64")])
def test_header_attributes_of_unexpected_type_or_encoding(tmp_path, problem, match):
    path = write_fastmri_file(tmp_path / "vol.h5", slices=2)
    with h5py.File(path, "a") as f:
        if problem == "acquisition_number":
            f.attrs["acquisition"] = np.int64(5)
        elif problem == "patient_latin1":
            f.attrs["patient_id"] = np.bytes_("Müller".encode("latin-1"))
        else:
            del f["ismrmrd_header"]
            f["ismrmrd_header"] = np.arange(5)
    with pytest.raises(DataError, match=match) as err:
        mri_data.index_folder(tmp_path)
    assert "vol.h5" in str(err.value) and "\n" not in str(err.value)


def test_out_paths_are_checked_before_any_work(tmp_path):
    data = folder(tmp_path, "data", 3)
    with h5py.File(data / "file1000002.h5", "a") as f:  # would fail only after reading every slice
        k = f["kspace"][1]
        k[0, 0] = np.nan
        f["kspace"][1] = k
    (tmp_path / "plain").write_text("a regular file")
    (tmp_path / "adir").mkdir()
    assert_one_line_error(cli("prepare", "--data-dir", data, "--out", tmp_path / "adir", "--quiet"),
                          f"--out {tmp_path / 'adir'}: is a folder")
    assert_one_line_error(cli("prepare", "--data-dir", data, "--out", tmp_path / "plain" / "p.h5", "--quiet"), "--out",
                          "plain is a file, not a folder")
    assert_one_line_error(cli("run", "--data-dir", data, "--out", tmp_path / "plain", "--quiet"),
                          f"--out {tmp_path / 'plain'}: exists and is not a folder")
    assert_one_line_error(cli("run", "--data-dir", data, "--out", tmp_path / "plain" / "run", "--quiet"), "--out",
                          "plain is a file")
    assert_one_line_error(cli("sample-data", "--out", tmp_path / "plain" / "s", "--quiet"), "--out", "plain is a file")
    start = time.perf_counter()
    assert_one_line_error(cli("bench", "--steps", "1", "--out", tmp_path / "plain" / "b.json"), "--out", "plain is a file")
    assert_one_line_error(cli("bench", "--steps", "1", "--out", tmp_path / "adir"), "--out", "is a folder")
    assert time.perf_counter() - start < 60  # refused before the benchmark, not after it
    assert (tmp_path / "plain").read_text() == "a regular file" and list((tmp_path / "adir").iterdir()) == []


# ---- 8. small ones -------------------------------------------------------------------------------


def test_only_empty_or_unknown_prefix_is_an_error(tmp_path, small_notebooks):
    for only, match in (([""], "--only: '' is not a notebook number"), (["01", "09"], "--only '09' matches no notebook")):
        with pytest.raises(ParameterError, match=match):
            runner.run_notebooks(tmp_path / "run", profile="quick", notebooks_dir=small_notebooks, only=only, progress=False)
    assert not (tmp_path / "run").exists()
    assert_one_line_error(cli("run", "--only", "", "--out", tmp_path / "run2", "--data-dir", tmp_path),
                          "--only: '' is not a notebook number")


def test_split_nan_names_the_option(tmp_path):
    data = folder(tmp_path, "data", 3)
    assert_one_line_error(cli("prepare", "--data-dir", data, "--out", tmp_path / "o" / "p.h5", "--split", "nan", "0.5", "0.5"),
                          "--split: split fractions must be finite numbers")
    assert not (tmp_path / "o").exists()


def test_failed_prepare_leaves_no_folder(tmp_path):
    data = folder(tmp_path, "data", 3)
    with h5py.File(data / "file1000002.h5", "a") as f:  # found while the output is being written
        k = f["kspace"][1]
        k[5, 5] = np.inf
        f["kspace"][1] = k
    result = cli("prepare", "--data-dir", data, "--out", tmp_path / "new" / "deeper" / "p.h5", "--size", 16, "--quiet")
    assert_one_line_error(result, "file1000002.h5, slice 1: 'kspace' contains NaN or Inf")
    assert not (tmp_path / "new").exists()
    result = cli("prepare", "--data-dir", tmp_path / "missing", "--out", tmp_path / "new" / "deeper" / "p.h5")
    assert_one_line_error(result, "missing: data folder (--data-dir) does not exist")
    assert not (tmp_path / "new").exists()


def test_stderr_has_no_kernel_or_tensorflow_noise(tmp_path):
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    write_notebook(nbs / "01_keras.ipynb", 'run_dir = "."', "import keras\nprint(keras.ops.ones(2))")
    code = (f"from automap_nb.orchestration import runner\nrunner.run_notebooks({str(tmp_path / 'run')!r}, profile='quick', "
            f"notebooks_dir={str(nbs)!r}, progress=False)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={k: v
                                 for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"})
    assert result.returncode == 0, result.stderr
    assert "IPKernelApp" not in result.stderr and "I0000" not in result.stderr, result.stderr
    assert (tmp_path / "run" / "logs" / "01_keras.kernel.log").is_file()  # kept, for a crash


def test_library_log_records_go_to_the_kernel_log_not_the_page(tmp_path):
    """TensorFlow's logger (e.g. its retracing warning) writes to stdout in a kernel unless told."""
    nbs = tmp_path / "notebooks"
    nbs.mkdir()
    write_notebook(nbs / "01_log.ipynb", 'run_dir = "."',
                   'import tensorflow as tf\ntf.get_logger().warning("retracing, for the test")\nprint("shown")')
    from automap_nb.orchestration import runner

    runner.run_notebooks(tmp_path / "run", profile="quick", notebooks_dir=nbs, progress=False)
    cells = json.loads((tmp_path / "run" / "01_log.ipynb").read_text())["cells"]
    shown = json.dumps([c.get("outputs", []) for c in cells])
    assert "shown" in shown and "retracing, for the test" not in shown
    assert "retracing, for the test" in (tmp_path / "run" / "logs" / "01_log.kernel.log").read_text()


# ---- fastMRI's own folders -----------------------------------------------------------------------


def test_train_folder_and_test_folder_the_fastmri_convention(tmp_path):
    train = folder(tmp_path, "singlecoil_train", 6, slices=2)
    val = folder(tmp_path, "singlecoil_val", 2, seed0=50, slices=3, prefix="file2")
    out = tmp_path / "p.h5"
    summary = prepare.prepare_dataset(train, out, size=16, progress=False, test_dir=val)
    with h5py.File(out, "r") as f:
        volume, split = f["volume"][()].astype(str), f["split"][()].astype(str)
        images, scale = f["images"][()], f.attrs["kspace_scale"]
        sources = json.loads(f.attrs["split_sources"])
    test_names = set(volume[split == "test"])
    assert test_names == {p.name for p in val.glob("*.h5")}  # the whole val folder, nothing else
    assert set(volume[split != "test"]) == {p.name for p in train.glob("*.h5")}
    assert summary["volumes"]["val"] >= 1 and summary["volumes"]["train"] >= 1
    assert summary["slices"]["test"] == 6
    # the k-space scale comes from the training split only
    train_rms = np.sqrt(np.mean(np.abs(images[split == "train"])**2))
    assert np.isclose(scale, 1 / train_rms, rtol=1e-5)
    assert not np.isclose(scale, 1 / np.sqrt(np.mean(np.abs(images)**2)), rtol=1e-3)
    assert sources["test"] == f"every volume of {val.resolve()}" and "by patient hash" in sources["val"]


def test_three_folders_need_no_hashing_and_a_test_only_folder_is_allowed(tmp_path):
    train = folder(tmp_path, "train", 2)
    val = folder(tmp_path, "val", 1, seed0=30, prefix="file3")
    test = folder(tmp_path, "test", 1, seed0=40, prefix="file4")
    summary = prepare.prepare_dataset(train, tmp_path / "p.h5", size=16, progress=False, val_dir=val, test_dir=test)
    assert summary["volumes"] == {"train": 2, "val": 1, "test": 1} and summary["split_notes"] == []
    result = cli("prepare", "--data-dir", train, "--val-dir", val, "--test-dir", test, "--out", tmp_path / "q.h5", "--size", 16,
                 "--quiet")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["volumes"] == {"train": 2, "val": 1, "test": 1}


def test_folder_mistakes_are_one_line_errors(tmp_path):
    train = folder(tmp_path, "train", 3)
    copy = tmp_path / "copy"
    shutil.copytree(train, copy)
    undersampled = tmp_path / "challenge"
    undersampled.mkdir()
    make_test_set_file(undersampled / "file9000000.h5")
    same_patient = folder(tmp_path, "other", 1, seed0=0, prefix="file7")  # patient0000, as in train
    cases = [(("--test-dir", train), "--test-dir", "is the same folder as --data-dir"),
             (("--test-dir", copy), "a file of the same name is in --data-dir"),
             (("--val-dir", undersampled), "file9000000.h5: k-space is undersampled"),
             (("--test-dir", same_patient), "patient 'patient0000' also has"),
             (("--val-dir", tmp_path / "nope"), "nope: val folder (--val-dir) does not exist")]
    for extra, *fragments in cases:
        result = cli("prepare", "--data-dir", train, *extra, "--out", tmp_path / "o" / "p.h5", "--size", 16, "--quiet")
        assert_one_line_error(result, *fragments)
    assert not (tmp_path / "o").exists()


def test_run_passes_the_folders_to_chapters_01_02_and_the_book_says_so(tmp_path):
    train = folder(tmp_path, "singlecoil_train", 4)
    val = folder(tmp_path, "singlecoil_val", 2, seed0=60, prefix="file2")
    run = tmp_path / "run"
    result = cli("run", "--profile", "quick", "--only", "01", "02", "--data-dir", train, "--test-dir", val, "--out", run, "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "IPKernelApp" not in result.stderr and "I0000" not in result.stderr
    chapter = json.loads((run / "02_preprocessing.json").read_text())
    assert chapter["split_sources"]["test"] == f"every volume of {val.resolve()}"
    assert chapter["volumes"]["test"] == 2
    explored = json.loads((run / "01_data_exploration.json").read_text())
    assert explored["volumes"] == 6 and explored["test_dir"] == str(val.resolve())
    page = (run / "02_preprocessing.ipynb").read_text()
    # the glued text the book shows names the folder by its name, not the machine's path
    assert f"every volume of `{val.name}/`" in page
    record = json.loads((run / "run.json").read_text())
    assert record["test_dir"] == str(val.resolve())
    # --only without --data-dir continues on the folders the run was made from
    result = cli("run", "--profile", "quick", "--only", "02", "--out", run, "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"data: {train.resolve()}" in result.stdout
    # --val-dir/--test-dir given to chapters that do not read them
    assert_one_line_error(
        cli("run", "--profile", "quick", "--only", "03", "--data-dir", train, "--test-dir", val, "--out", tmp_path / "r2"),
        "--test-dir is read by none of the notebooks run")


def test_makefile_passes_the_folders():
    result = subprocess.run(
        ["make", "-n", "-W", ".venv/.installed", "book", "DATA_DIR=/d/train", "VAL_DIR=/d/v", "TEST_DIR=/d/val"],
        capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    run_line = next(line for line in result.stdout.splitlines() if " run " in line)
    assert '--data-dir "/d/train"' in run_line and '--val-dir "/d/v"' in run_line and '--test-dir "/d/val"' in run_line


# ---- beyond the list: other fastMRI variants, mixed folders, read-only and full disks -------------


def test_multicoil_and_brain_files_are_named_as_such(tmp_path):
    path = tmp_path / "file_brain_AXT2_200_2000001.h5"
    write_fastmri_file(path, slices=2)
    with h5py.File(path, "a") as f:
        del f["kspace"], f["reconstruction_esc"]
        f["kspace"] = np.ones((2, 4, 640, 320), np.complex64)
        f["reconstruction_rss"] = np.ones((2, 320, 320), np.float32)
        f.attrs["acquisition"] = "AXT2"
    with pytest.raises(DataError, match=r"file_brain_AXT2_200_2000001.h5: .*a multi-coil file .*singlecoil_train"):
        mri_data.index_folder(tmp_path)


def test_mixed_folder_names_the_first_bad_file_and_counts_the_rest(tmp_path):
    data = folder(tmp_path, "data", 2)
    make_test_set_file(data / "file1000005.h5")
    (data / "file1000006.h5").write_bytes(b"not hdf5")
    (data / "notes.txt").write_text("ignored: not .h5")
    with pytest.raises(DataError, match=r"file1000005.h5: k-space is undersampled .* \(and 1 more bad file\(s\) in"):
        mri_data.index_folder(data)


def test_read_only_run_folder(tmp_path, tmpfs):
    data = folder(tmp_path, "data", 3)
    ro = tmpfs("ro,size=1m")
    assert_one_line_error(cli("run", "--data-dir", data, "--out", ro / "run", "--quiet"), "--out", "is not writable")
    assert_one_line_error(cli("prepare", "--data-dir", data, "--out", ro / "p.h5", "--quiet"), "--out", "is not writable")


def test_full_disk_leaves_nothing_half_written(tmp_path, tmpfs):
    data = folder(tmp_path, "data", 3, slices=3)
    small = tmpfs("size=64k")
    result = cli("prepare", "--data-dir", data, "--out", small / "sub" / "prepared.h5", "--size", 64, "--quiet")
    assert_one_line_error(result, "prepared.h5: not enough free space", "MiB free")
    assert list(small.iterdir()) == []  # no temporary file, no folder
