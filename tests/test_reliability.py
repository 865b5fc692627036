"""Issue 26: nothing lost when two runs meet, a rerun fails or the disk fills; every parameter checked
before work; hostile files (huge declared shapes, NaN targets, external storage, odd names, link loops).

Real files, real processes (kill -9), a real full disk (a small tmpfs, where this machine lets us
mount one) and, for machines without, a fake one. Each test fails without the change it covers.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
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

from automap_nb.data import mri_data, prepare, prepared
from automap_nb.data.mri_data import DataError
from automap_nb.orchestration import book, cli, params, profiles, runner
from automap_nb.orchestration.params import ParameterError

REPO = Path(__file__).resolve().parent.parent


def folder(tmp_path, name, count, slices=2, names=None):
    path = tmp_path / name
    path.mkdir(parents=True)
    for i in range(count):
        write_fastmri_file(path / (names[i] if names else f"file1{i:06d}.h5"), slices=slices, seed=i)
    return path


def one_line_cli(*args, timeout=300, env=None):
    """``automap-nb ARGS`` in a fresh process; returns its single stderr line (exit status 2)."""
    result = subprocess.run([sys.executable, "-m", "automap_nb", *map(str, args)], capture_output=True, text=True, timeout=timeout,
                            env=env)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, (result.returncode, result.stderr)
    return lines[0]


@pytest.fixture
def chapters(tmp_path):
    """Two throw-away chapters: 01 writes its JSON; 02 writes its JSON, sleeps ``pause`` s, then fails if ``epochs >= 5``."""
    nbs = tmp_path / "repo" / "notebooks"
    nbs.mkdir(parents=True)
    write_notebook(nbs / "01_first.ipynb", 'run_dir = "."\ndata_dir = "."\nseed = 0',
                   "from automap_nb.results import write_json\nwrite_json(f'{run_dir}/01_first.json', {'seed': seed})")
    write_notebook(
        nbs / "02_second.ipynb", 'run_dir = "."\nseed = 0\nepochs = 1\npause = 0',
        "import time\nfrom automap_nb.results import write_json\nassert epochs != 7, 'seven'\n"
        "write_json(f'{run_dir}/02_second.json', {'epochs': epochs})\n"
        "time.sleep(pause)\nassert epochs < 5, 'too many epochs'")
    return nbs


def start_run(run, data, nbs, **overrides):
    """``run_notebooks(--only 02)`` in its own process group (to be killed with its kernel)."""
    code = ("from automap_nb.orchestration import runner\n"
            f"runner.run_notebooks({str(run)!r}, profile='quick', data_dir={data and str(data)!r}, notebooks_dir={str(nbs)!r}, "
            f"only=['02'], overrides={overrides!r}, progress=False)\n")
    return subprocess.Popen([sys.executable, "-c", code], start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def wait_for(condition, proc, seconds=120):
    deadline = time.time() + seconds
    while not condition():
        assert proc.poll() is None, "the run ended before it could be met"
        assert time.time() < deadline, "timed out"
        time.sleep(0.3)


def kill(proc):
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def read_json(path):
    return json.loads(Path(path).read_text())


# ---- 1. one writer per run folder ---------------------------------------------------------------


def test_a_second_run_is_refused_naming_the_holder_and_a_killed_runs_lock_is_taken_over(tmp_path, chapters):
    data, run = folder(tmp_path, "data", 1), tmp_path / "run"
    runner.run_notebooks(run, profile="quick", data_dir=data, notebooks_dir=chapters, progress=False)
    first = start_run(run, data, chapters, pause=60)
    try:
        wait_for(lambda: read_json(run / "run.json")["notebooks"]["02_second.ipynb"].get("pid") == first.pid, first)
        with pytest.raises(runner.RunError) as caught:
            runner.run_notebooks(run, profile="quick", data_dir=data, notebooks_dir=chapters, only=["01"], progress=False)
        message = str(caught.value)
        assert "\n" not in message and "in use by another `automap-nb run`" in message
        assert f"pid {first.pid} on host {socket.gethostname()}" in message
    finally:
        kill(first)
    # the killed run's lock is stale: the next run takes it over and completes
    runner.run_notebooks(run, profile="quick", data_dir=data, notebooks_dir=chapters, progress=False)
    assert all(nb["status"] == "ok" for nb in read_json(run / "run.json")["notebooks"].values())
    assert (run / runner.LOCK_NAME).read_text() == ""  # released


def test_a_lock_file_naming_a_dead_process_is_taken_over(tmp_path, chapters):
    run = tmp_path / "run"
    run.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (run / runner.LOCK_NAME).write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "since": "then"}))
    runner.run_notebooks(run, profile="quick", notebooks_dir=chapters, only=["02"], progress=False)
    assert read_json(run / "run.json")["notebooks"]["02_second.ipynb"]["status"] == "ok"


# ---- 2. a failed or killed rerun keeps the good notebook and JSON ----------------------------------


def test_a_failed_rerun_keeps_the_good_notebook_and_json_and_records_the_failure_beside_them(tmp_path, chapters):
    run = tmp_path / "run"
    runner.run_notebooks(run, profile="quick", notebooks_dir=chapters, overrides={"epochs": 2}, progress=False)
    good = (run / "02_second.ipynb").read_text()
    with pytest.raises(
            runner.RunError, match=r"02_second.ipynb failed in cell \d+: AssertionError: too many epochs .*"
            r"logs/02_second.failed.ipynb"):
        runner.run_notebooks(run, profile="quick", notebooks_dir=chapters, only=["02"], overrides={"epochs": 9}, progress=False)
    assert (run / "02_second.ipynb").read_text() == good
    assert read_json(run / "02_second.json") == {"epochs": 2}
    assert read_json(run / "logs" / "02_second.failed.json") == {"epochs": 9}
    failed = nbformat.read(run / "logs" / "02_second.failed.ipynb", as_version=4)
    assert any(output.get("ename") == "AssertionError" for cell in failed.cells for output in cell.get("outputs", []))
    entry = read_json(run / "run.json")["notebooks"]["02_second.ipynb"]
    assert entry["status"] == "failed" and entry["failed_copy"] == "logs/02_second.failed.ipynb"
    assert "too many epochs" in entry["error"]
    assert entry["kept"]["status"] == "ok" and entry["kept"]["parameters"]["epochs"] == 2
    assert not list(run.glob(".*tmp-*")) and not list(run.glob(".*kept-*"))
    # a rerun that fails before it writes its JSON leaves the good one as it is
    with pytest.raises(runner.RunError, match="AssertionError: seven"):
        runner.run_notebooks(run, profile="quick", notebooks_dir=chapters, only=["02"], overrides={"epochs": 7}, progress=False)
    assert read_json(run / "02_second.json") == {"epochs": 2} and (run / "02_second.ipynb").read_text() == good
    assert not list(run.glob(".*tmp-*")) and not list(run.glob(".*kept-*"))
    # the book refuses the run and its hint reruns with the run's own profile
    with pytest.raises(book.BookError, match=r"02_second.ipynb \(failed\); rerun them: automap-nb run --out \S+ --profile quick "
                       r"--only 02"):
        book.check_run_complete(run, repo_root=chapters.parent)


def test_a_killed_rerun_keeps_the_good_notebook_and_the_next_run_puts_the_good_json_back(tmp_path, chapters):
    run = tmp_path / "run"
    runner.run_notebooks(run, profile="quick", notebooks_dir=chapters, overrides={"epochs": 2}, progress=False)
    good = (run / "02_second.ipynb").read_text()
    proc = start_run(run, None, chapters, epochs=3, pause=60)
    try:
        wait_for(lambda: read_json(run / "02_second.json") == {"epochs": 3}, proc)
        assert list(run.glob(".02_second.ipynb.tmp-*.ipynb"))  # the rerun executes into a temporary copy
    finally:
        kill(proc)
    assert (run / "02_second.ipynb").read_text() == good
    assert read_json(run / "run.json")["notebooks"]["02_second.ipynb"]["status"] == "running"
    runner.run_notebooks(run, profile="quick", notebooks_dir=chapters, only=["01"], progress=False)
    assert read_json(run / "02_second.json") == {"epochs": 2}  # put back by the next run
    assert read_json(run / "logs" / "02_second.failed.json") == {"epochs": 3}
    assert not list(run.glob(".*tmp-*")) and not list(run.glob(".*kept-*"))


# ---- 3. a full disk while prepare writes -----------------------------------------------------------


@pytest.mark.parametrize("size", ["8k", "2m"])  # full while HDF5 builds the file / before the data fit
def test_a_disk_that_fills_while_prepare_writes_is_one_line_and_leaves_nothing(tmp_path, tmpfs, size):
    data, disk = folder(tmp_path, "data", 3, slices=3), tmpfs(f"size={size}")
    # the up-front free-space check is told the disk is huge, so that the disk fills during the write
    code = ("import collections, shutil, sys\n"
            "shutil.disk_usage = lambda p: collections.namedtuple('u', 'total used free')(2**50, 0, 2**50)\n"
            "from automap_nb.orchestration.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    result = subprocess.run([
        sys.executable, "-c", code, "prepare", "--data-dir", data, "--out", disk / "sub" / "prepared.h5", "--size", "128", "--quiet"
    ], capture_output=True, text=True, timeout=300)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, (result.returncode, result.stderr[-3000:])  # a segfault was 139
    assert "prepared.h5: the disk of" in lines[0] and "is full" in lines[0]
    assert list(disk.iterdir()) == []


def test_no_space_for_the_prepared_files_data_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    """The same without a tmpfs: the reservation of the file's blocks meets a full disk."""
    data, out = folder(tmp_path, "data", 3), tmp_path / "out" / "prepared.h5"

    def full(handle, size):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(prepared, "_reserve_blocks", full)
    with pytest.raises(ValueError, match=r"prepared.h5: the disk of .* is full \(no space left on device\)"):
        prepare.prepare_dataset(data, out, size=16, progress=False)
    assert not (tmp_path / "out").exists()


def test_the_prepared_files_blocks_are_reserved_before_hdf5_writes_data(tmp_path, fastmri_folder):
    out = tmp_path / "prepared.h5"
    prepare.prepare_dataset(fastmri_folder, out, size=16, progress=False)
    with h5py.File(out, "r") as f:
        assert all(f[key].chunks is None for key in prepared.ROW_DATASETS)  # contiguous: no chunk allocated later
        assert f["inputs"].shape == (8, 16, 16, 2)
    assert os.stat(out).st_blocks * 512 >= out.stat().st_size  # no hole left to fill


# ---- 4. empty splits --------------------------------------------------------------------------------


def test_an_empty_split_reads_as_empty_arrays_and_chapter_05_says_so(tmp_path):
    data, out = folder(tmp_path, "data", 3), tmp_path / "prepared.h5"
    prepare.prepare_dataset(data, out, size=16, fractions=(1, 0, 0), progress=False)
    val = prepared.read_split(out, "val")
    assert val["images"].shape == (0, 16, 16) and val["images"].dtype == np.complex64
    assert val["inputs"].shape == (0, 16, 16, 2) and val["targets"].shape == (0, 16, 16, 1)
    assert val["slice"].shape == (0, ) and val["volume"].shape == (0, )
    with pytest.raises(ValueError, match=r"prepared.h5: the val split is empty \(prepare with a non-zero val fraction"):
        prepared.read_split(out, "val", nonempty=True)
    # chapter 05's own check, as its cell has it, is reached
    cell = next("".join(c.source) for c in nbformat.read(REPO / "notebooks" / "05_results.ipynb", as_version=4).cells
                if "split is empty" in "".join(c.source))
    lines = cell.splitlines()
    check = "\n".join(lines[:next(i for i, line in enumerate(lines) if "split is empty" in line) + 1])
    with pytest.raises(ValueError, match="the test split is empty"):
        exec(check, {"read_split": prepared.read_split, "prepared": out})


# ---- 5. every parameter checked before the first notebook starts ----------------------------------


@pytest.fixture
def spec_chapters(tmp_path):
    """Throw-away chapters named as the book's 01 and 04, so their parameters in params.CHAPTERS apply."""
    nbs = tmp_path / "repo" / "notebooks"
    nbs.mkdir(parents=True)
    write_notebook(nbs / "01_data_exploration.ipynb", 'data_dir = "."\nval_dir = None\ntest_dir = None\nrun_dir = "."\n'
                   'example_volume = 0\nseed = 0', "from pathlib import Path\nPath(run_dir, 'ran.txt').write_text('01')")
    write_notebook(nbs / "04_weight_analysis.ipynb", 'run_dir = "."\nseed = 0\nweights_units_shown = 4', "pass")
    return nbs


def test_a_bad_parameter_of_a_later_chapter_stops_the_run_before_the_first_notebook(tmp_path, spec_chapters):
    data, run = folder(tmp_path, "data", 1), tmp_path / "new" / "run"
    with pytest.raises(ParameterError, match=r"^04_weight_analysis: parameter 'weights_units_shown' must be <= 16, got 99$"):
        runner.run_notebooks(run, profile="quick", data_dir=data, notebooks_dir=spec_chapters,
                             overrides={"weights_units_shown": 99}, progress=False)
    assert not (tmp_path / "new").exists()  # nothing ran, no folder left
    runner.run_notebooks(run, profile="quick", data_dir=data, notebooks_dir=spec_chapters, overrides={"weights_units_shown": 3},
                         progress=False)
    assert (run / "ran.txt").read_text() == "01"


@pytest.mark.parametrize("key, option", [("run_dir", "--out"), ("data_dir", "--data-dir"), ("profile", "--profile")])
def test_parameters_that_options_set_are_refused_after_p(tmp_path, spec_chapters, key, option):
    with pytest.raises(ParameterError, match=f"parameter '{key}' is set by {option}, not by -p"):
        runner.run_notebooks(tmp_path / "run", profile="quick", notebooks_dir=spec_chapters, overrides={key: "elsewhere"})


@pytest.mark.parametrize("value, parsed", [("-1e-3", -1e-3), ("-3", -3), ("-.5", -0.5), ("-inf", "-inf"), ("[1, -2]", [1, -2])])
def test_negative_numbers_parse_after_p_key(value, parsed):
    args = cli.build_parser().parse_args(
        cli.protect_parameter_values(["run", "-p", "train_learning_rate", value, "--only", "03", "-p", "seed", "1"]))
    assert [key for key, _ in args.parameters] == ["train_learning_rate", "seed"] and args.only == ["03"]
    assert runner.parse_value(args.parameters[0][1].removeprefix(cli.PROTECTED)) == parsed


def test_the_issues_case_a_bad_chapter_03_value_is_refused_before_chapter_01_runs(tmp_path):
    """``run -p train_learning_rate -1e-3``: one line naming chapter 03's parameter, before 01 and 02 run."""
    data, run = folder(tmp_path, "data", 3), tmp_path / "run"
    line = one_line_cli("run", "--profile", "quick", "--data-dir", data, "--out", run, "--only", "01", "02", "03", "-p",
                        "train_learning_rate", "-1e-3", "--quiet")
    assert "03_train_automap: parameter 'train_learning_rate' must be > 0, got -0.001" in line
    assert not run.exists()


def test_chapters_checked_against_the_prepared_file_use_the_size_this_run_will_prepare():
    params.PLANNED_PREPARED_SIZE = 24
    try:
        assert params._prepared_size(Path("/nonexistent")) == 24
    finally:
        params.PLANNED_PREPARED_SIZE = None
    with pytest.raises(ParameterError, match="prepared.h5' does not exist"):
        params._prepared_size(Path("/nonexistent"))


# ---- 6.-11. hostile files ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["kspace", "reconstruction_esc"])
def test_huge_declared_shapes_are_refused_before_any_read(tmp_path, key):
    path = write_fastmri_file(tmp_path / "file1000000.h5", slices=2)
    with h5py.File(path, "a") as f:
        del f[key]
        f.create_dataset(key, (2, 200000, 200000), np.complex64 if key == "kspace" else np.float32, chunks=(1, 64, 64))
    with pytest.raises(DataError, match=rf"file1000000.h5: '{key}' declares shape \(2, 200000, 200000\).*refused before reading"):
        mri_data.read_volume_info(path)
    with pytest.raises(DataError, match=rf"file1000000.h5: '{key}' declares shape"):
        prepare.prepare_dataset(tmp_path, tmp_path / "p.h5", size=16, progress=False)
    reader = mri_data.read_kspace_slice if key == "kspace" else mri_data.read_target_slice
    with pytest.raises(DataError, match=rf"file1000000.h5: '{key}' declares shape"):
        reader(path, 0)


def test_too_many_declared_slices_are_refused(tmp_path):
    path = write_fastmri_file(tmp_path / "file1000000.h5", slices=2)
    with h5py.File(path, "a") as f:
        del f["kspace"], f["reconstruction_esc"]
        f.create_dataset("kspace", (10**6, 640, 368), np.complex64, chunks=(1, 64, 64))
    with pytest.raises(DataError, match=r"'kspace' declares 1000000 slices \(at most 1024\)"):
        mri_data.read_volume_info(path)
    with h5py.File(path, "a") as f:
        del f["ismrmrd_header"]
        f.create_dataset("ismrmrd_header", (10**9, ), np.uint8, chunks=(1024, ))
    with pytest.raises(DataError, match=r"'ismrmrd_header' declares \(1000000000,\) × uint8: not one XML text"):
        mri_data.read_volume_info(path)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_or_inf_in_the_target_names_file_and_slice(tmp_path, bad):
    path = write_fastmri_file(tmp_path / "file1000000.h5", slices=3)
    with h5py.File(path, "a") as f:
        f["reconstruction_esc"][1, 5, 7] = bad
    assert mri_data.read_target_slice(path, 0).shape == (320, 320)
    with pytest.raises(DataError, match=r"file1000000.h5, slice 1: 'reconstruction_esc' contains NaN or Inf"):
        mri_data.read_target_slice(path, 1)


def test_external_storage_virtual_datasets_and_external_links_are_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "data").mkdir()
    path = write_fastmri_file(tmp_path / "data" / "file1000000.h5", slices=2)
    with h5py.File(path, "r") as f:
        esc = f["reconstruction_esc"][()]
    (outside / "esc.bin").write_bytes(esc.tobytes())
    with h5py.File(path, "a") as f:
        del f["reconstruction_esc"]
        f.create_dataset("reconstruction_esc", esc.shape, esc.dtype, external=[(str(outside / "esc.bin"), 0, esc.nbytes)])
    with pytest.raises(
            DataError, match=r"file1000000.h5: 'reconstruction_esc' keeps its data outside the file \(HDF5 external "
            r"storage in .*esc.bin\); refused"):
        mri_data.index_folder(path.parent)
    with h5py.File(path, "a") as f:
        del f["reconstruction_esc"]
        layout = h5py.VirtualLayout(esc.shape, esc.dtype)
        layout[...] = h5py.VirtualSource(str(outside / "other.h5"), "esc", esc.shape, esc.dtype)
        f.create_virtual_dataset("reconstruction_esc", layout)
    with pytest.raises(DataError, match=r"'reconstruction_esc' is a virtual dataset"):
        mri_data.read_volume_info(path)
    with h5py.File(outside / "k.h5", "w") as other, h5py.File(path, "a") as f:
        other["kspace"] = f["kspace"][()]
        del f["kspace"], f["reconstruction_esc"]
        f["kspace"] = h5py.ExternalLink(str(outside / "k.h5"), "kspace")
    with pytest.raises(DataError, match=r"'kspace' is a link to another file \(.*k.h5\); refused"):
        mri_data.read_volume_info(path)
    with pytest.raises(DataError, match=r"'kspace' is a link to another file"):
        mri_data.read_kspace_slice(path, 0)


def test_non_ascii_file_names_work(tmp_path):
    names = ["é_knee.h5", "日本.h5", os.fsdecode(b"caf\xe9 latin-1.h5"), "file1000003.h5"]
    data = folder(tmp_path, "données", 4, names=names)
    out = tmp_path / "prepared.h5"
    summary = prepare.prepare_dataset(data, out, size=16, fractions=(0.5, 0.25, 0.25), progress=False)
    assert sum(summary["volumes"].values()) == 4
    found = set()
    for split in ("train", "val", "test"):
        found |= set(prepared.read_split(out, split)["volume"])
    assert found == set(names)
    assert runner.data_fingerprint([data]) != runner.data_fingerprint([None])


def test_a_symlink_loop_is_named_as_such(tmp_path, chapters):
    data = folder(tmp_path, "data", 1)
    (data / "a.h5").symlink_to(data / "b.h5")
    (data / "b.h5").symlink_to(data / "a.h5")
    (data / "gone.h5").symlink_to(tmp_path / "nowhere.h5")
    with pytest.raises(DataError, match=r"a.h5: is a symbolic link loop \(and 2 more bad file"):
        mri_data.index_folder(data)
    with pytest.raises(DataError, match=r"gone.h5: is a broken symbolic link \(to .*nowhere.h5\)"):
        mri_data.read_volume_info(data / "gone.h5")
    with pytest.raises(DataError, match=r"a.h5: is a symbolic link loop"):
        runner.data_fingerprint([data])
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(DataError, match=r"loop: is a symbolic link loop"):
        mri_data.index_folder(loop)
    with pytest.raises(DataError, match=r"loop: is a symbolic link loop"):
        prepare.prepare_dataset(loop, tmp_path / "p.h5", progress=False)
    with pytest.raises(ParameterError, match=r"--data-dir .*loop: is a symbolic link loop"):
        runner.run_notebooks(tmp_path / "run", profile="quick", data_dir=loop, notebooks_dir=chapters)


# ---- 9. the rerun hint and --only keep the run's profile ---------------------------------------------


def test_only_reruns_with_the_recorded_profile_and_mixing_profiles_is_refused(tmp_path, chapters):
    run = tmp_path / "run"
    runner.run_notebooks(run, profile="quick", notebooks_dir=chapters, progress=False)
    args = cli.build_parser().parse_args(["run", "--out", str(run), "--only", "02"])
    assert cli._run_profile(args, run) == "quick"
    assert cli._run_profile(cli.build_parser().parse_args(["run", "--out", str(run)]), run) == "cpu"  # a whole new run
    with pytest.raises(
            runner.RunError, match=r"01_first.ipynb ran with --profile quick; running 02_second.ipynb with "
            r"--profile cpu would mix profiles in one folder: add --profile quick"):
        runner.run_notebooks(run, profile="cpu", notebooks_dir=chapters, only=["02"], progress=False)
    assert read_json(run / "run.json")["profile"] == "quick"


def test_the_sample_split_goes_only_to_runs_that_prepare_data(quick_data):
    # `automap-nb run --only 08` on the sample data must not pass chapter 02's `split` to chapters without it
    data = {"data_dir": quick_data, "val_dir": None, "test_dir": None}
    split = {"split": profiles.SAMPLE_DATA["quick"]["split"]}
    assert cli.sample_split(data, "quick") == cli.sample_split(data, "quick", ["01", "02"]) == split
    assert cli.sample_split(data, "quick", ["08", "10"]) == {}
    assert cli.sample_split({**data, "test_dir": quick_data}, "quick") == {}
