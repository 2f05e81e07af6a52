"""The command line: example volume -> mesh file, and its errors."""
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from vrnfast.cli import main


def test_example_then_mesh(tmp_path, capsys):
    vol = tmp_path / "face.npy"
    main(["example", str(vol), "--shape", "40", "48", "48"])
    a = np.load(vol)
    assert a.shape == (40, 48, 48) and a.dtype == np.float32 and a.min() < 0.5 < a.max()
    out = tmp_path / "face.obj"
    main(["mesh", str(vol), "-o", str(out)])
    assert "vertices" in capsys.readouterr().out
    lines = out.read_text().splitlines()
    n_v = sum(l.startswith("v ") for l in lines)
    n_f = sum(l.startswith("f ") for l in lines)
    assert n_v > 100 and n_f > 100
    main(["mesh", str(vol), "-o", str(tmp_path / "face.ply"), "--image-coords", "--z-scale", "0.5"])
    assert (tmp_path / "face.ply").read_bytes().startswith(b"ply\n")


@pytest.mark.parametrize("kind", ["sphere", "torus", "noise"])
def test_example_kinds(tmp_path, kind):
    main(["example", str(tmp_path / "v.npy"), "--kind", kind, "--shape", "16", "17", "18"])
    assert np.load(tmp_path / "v.npy").shape == (16, 17, 18)


def test_mesh_errors(tmp_path):
    with pytest.raises(SystemExit, match="no such file"):
        main(["mesh", str(tmp_path / "missing.npy"), "-o", str(tmp_path / "m.obj")])
    np.save(tmp_path / "flat.npy", np.zeros((4, 4)))
    with pytest.raises(SystemExit, match="3-D"):
        main(["mesh", str(tmp_path / "flat.npy"), "-o", str(tmp_path / "m.obj")])
    with pytest.raises(SystemExit, match=".obj or .ply"):
        main(["mesh", str(tmp_path / "flat.npy"), "-o", str(tmp_path / "m.stl")])
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    with pytest.raises(SystemExit, match="not a .npy"):
        main(["mesh", str(tmp_path / "junk.npy"), "-o", str(tmp_path / "m.obj")])


def test_console_script_info():
    beside = Path(sys.executable).with_name("vrnfast")
    exe = str(beside) if beside.exists() else shutil.which("vrnfast")
    if exe is None:
        pytest.skip("vrnfast console script not on PATH")
    out = subprocess.run([exe, "info", "--model", "vrn", "--preset", "tiny"], capture_output=True, text=True,
                         check=True).stdout
    assert "vrnfast" in out and "vrnfast._C: built" in out


def test_outputs_in_folders_that_do_not_exist_are_made(tmp_path, capsys):
    main(["example", str(tmp_path / "a" / "b" / "v.npy"), "--kind", "sphere", "--shape", "12", "12", "12"])
    main(["mesh", str(tmp_path / "a" / "b" / "v.npy"), "-o", str(tmp_path / "c" / "d" / "m.ply")])
    assert (tmp_path / "c" / "d" / "m.ply").read_bytes().startswith(b"ply\n")


def test_a_reader_that_leaves_early_ends_it_quietly():
    """`vrnfast info | head -1`: the pipe closes while info is still tracing its models."""
    proc = subprocess.Popen([sys.executable, "-m", "vrnfast", "info"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    assert proc.stdout.readline().startswith(b"vrnfast ")
    proc.stdout.close()
    _, err = proc.communicate(timeout=120)
    assert err == b"" and proc.returncode == 1


def test_ctrl_c_during_synth_keeps_the_faces_written_as_a_dataset(tmp_path, monkeypatch, run_cli, sigint):
    import signal

    from vrnfast import data
    from vrnfast.data import FaceDataset

    made = data.synthetic_sample

    def sample(i, *args, **kwargs):
        if i == 3:
            signal.raise_signal(signal.SIGINT)  # as a terminal's Ctrl-C reaches the process
        return made(i, *args, **kwargs)

    monkeypatch.setattr(data, "synthetic_sample", sample)
    code, err = run_cli(["synth", "--n", "10", "--out", str(tmp_path / "ds")])
    assert code == 130
    assert err[-1] == f"vrnfast synth: interrupted; 3 of 10 faces written to {tmp_path / 'ds'}, indexed as a dataset of 3"
    assert len(FaceDataset(tmp_path / "ds", strict=True)) == 3
    assert [p.name for p in (tmp_path / "ds").iterdir() if p.name.startswith(".")] == []  # no partial file


def test_version_is_the_package_version(capsys):
    from importlib.metadata import version

    import vrnfast

    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0
    assert capsys.readouterr().out == f"vrnfast {vrnfast.__version__}\n"
    assert version("vrnfast") == vrnfast.__version__  # setup.py reads it from the package: one source


def test_cuda_extension_messages_say_what_is_missing():
    from vrnfast._backend import cuda_not_built, cuda_unavailable

    insufficient = "CUDA driver version is insufficient for CUDA runtime version"
    no_gpu = cuda_unavailable(13000, 0, insufficient)  # what the runtime says where there is no driver at all
    assert "no CUDA driver or device is present" in no_gpu and "driver of CUDA" not in no_gpu
    old_driver = cuda_unavailable(13000, 12040, insufficient)
    assert "the driver supports CUDA 12.4 only" in old_driver and "A driver of CUDA 13.0 or newer" in old_driver
    assert "no CUDA device" in cuda_unavailable(13000, 13010, "no CUDA device")
    assert "on request (VRNFAST_CUDA=0)" in cuda_not_built("skipped on request (VRNFAST_CUDA=0)")
    assert "nvcc was not found" in cuda_not_built("skipped: nvcc was not found")


def test_info_tells_a_machine_without_a_gpu_so(capsys):
    """What this build and machine give: vrnfast._C records what the build did about vrnfast._cuda,
    and where that is installed on a machine with no driver, info says there is none."""
    import importlib.util

    from vrnfast import _C

    built = importlib.util.find_spec("vrnfast._cuda") is not None
    assert (_C.cuda_build == "built") == built
    main(["info", "--model", "vrn", "--preset", "tiny"])
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("CUDA extension"))
    if not built:
        assert _C.cuda_build in line
    else:
        from vrnfast import _cuda

        if _cuda.driver_version() == 0:
            assert "no CUDA driver or device is present" in line and "driver of CUDA" not in line
        elif not _cuda.runtime_error():
            assert "runs here" in line
