"""Marching cubes: vrnfast against scikit-image, PyMCubes and VTK, per volume (benchmark group).

    pytest benchmarks/ --benchmark-only --benchmark-json out.json && python tools/bench_table.py out.json

Each implementation gets the volume in the form it wants, prepared outside the timed region; the
timed call returns (V, F). Everything a reader needs to judge a row goes in extra_info: V, F, the
threads used, the volume's bytes and the time to read it once at a measured bandwidth (the floor).
"""
from __future__ import annotations

import time

import numpy as np
import pytest

import vrnfast

TARGET_S = 1.5  # timed seconds per case; rounds = TARGET_S / (one call), clamped to [3, 50]


def _counts(out):
    verts, faces = out
    return len(verts), len(faces)


def vrnfast_cpp(vol, level):
    return lambda: _counts(vrnfast.marching_cubes(vol, level, backend="cpp")), {
        "threads": vrnfast.get_num_threads()}


def vrnfast_cpp_1thread(vol, level):
    def run():
        vrnfast.set_num_threads(1)
        try:
            return _counts(vrnfast.marching_cubes(vol, level, backend="cpp"))
        finally:
            vrnfast.set_num_threads(0)

    return run, {"threads": 1}


def skimage(method):
    def prepare(vol, level):
        sk_mc = pytest.importorskip("skimage.measure", reason="scikit-image not installed").marching_cubes
        # skimage always computes per-vertex normals and values too; there is no switch to skip them
        return lambda: _counts(sk_mc(vol, level, method=method)[:2]), {"threads": 1}

    return prepare


def vrnfast_skimage_dropin(vol, level):
    from vrnfast.compat.skimage import marching_cubes as dropin

    # scikit-image's function, signature and outputs (normals and values too), on vrnfast's kernel
    return lambda: _counts(dropin(vol, level)[:2]), {"threads": vrnfast.get_num_threads()}


def pymcubes(vol, level):
    mcubes = pytest.importorskip("mcubes", reason="PyMCubes not installed")
    # PyMCubes reads every voxel through PyArray_SafeGet<double> (a dtype switch per voxel), so any
    # dtype works; give it its native float64, converted here, outside the timed region
    vol64 = vol.astype(np.float64)
    return lambda: _counts(mcubes.marching_cubes(vol64, level)), {"threads": 1, "input": "float64 copy"}


def vtk_flying_edges(vol, level):
    # VTK counts a voxel equal to the level as inside (vrnfast and skimage: value > level), so its
    # V and F differ where voxels sit exactly on the level (25 voxels of "face" are exactly 0.5)
    core = pytest.importorskip("vtkmodules.vtkFiltersCore", reason="vtk not installed")
    from vtkmodules.util import numpy_support
    from vtkmodules.vtkCommonCore import vtkSMPTools
    from vtkmodules.vtkCommonDataModel import vtkImageData

    flat = np.ascontiguousarray(vol).ravel()  # VTK's x is numpy's last axis
    image = vtkImageData()
    image.SetDimensions(*vol.shape[::-1])
    image.GetPointData().SetScalars(numpy_support.numpy_to_vtk(flat, deep=False))
    fe = core.vtkFlyingEdges3D()
    fe.SetInputData(image)
    fe.SetValue(0, level)
    fe.ComputeNormalsOff()
    fe.ComputeGradientsOff()
    fe.ComputeScalarsOff()

    def run():
        fe.Modified()
        fe.Update()
        out = fe.GetOutput()
        return out.GetNumberOfPoints(), out.GetNumberOfCells()

    run.keep_alive = (flat, image)
    return run, {"threads": vtkSMPTools.GetEstimatedNumberOfThreads(), "smp": vtkSMPTools.GetBackend()}


def vrnfast_cuda(vol, level):
    torch = pytest.importorskip("torch", reason="torch not installed")
    try:
        import vrnfast._cuda  # noqa: F401
    except ImportError as e:
        pytest.skip(f"vrnfast was built without vrnfast._cuda ({e})")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device (torch.cuda.is_available() is False)")
    t = torch.from_numpy(vol).cuda()

    def run():
        verts, faces = vrnfast.marching_cubes(t, level, backend="cuda")
        torch.cuda.synchronize()
        return len(verts), len(faces)

    return run, {"threads": "gpu", "device": torch.cuda.get_device_name()}


IMPLS = {
    "vrnfast cpp": vrnfast_cpp,
    "vrnfast cpp 1 thread": vrnfast_cpp_1thread,
    "vrnfast cuda": vrnfast_cuda,
    "vrnfast.compat.skimage": vrnfast_skimage_dropin,
    "skimage lewiner": skimage("lewiner"),
    "skimage lorensen": skimage("lorensen"),
    "PyMCubes": pymcubes,
    "VTK FlyingEdges3D": vtk_flying_edges,
}


@pytest.mark.parametrize("impl", list(IMPLS), ids=[n.replace(" ", "_") for n in IMPLS])
def test_marching_cubes(benchmark, request, volume, host_read_gbps, impl):
    vol, level = volume.array, volume.level
    run, info = IMPLS[impl](vol, level)
    t0 = time.perf_counter()
    n_verts, n_tris = run()  # warm-up (first-call costs stay out), and it sizes the rounds
    first_s = time.perf_counter() - t0

    gbps = request.getfixturevalue("cuda_copy_gbps") if impl == "vrnfast cuda" else host_read_gbps
    benchmark.group = volume.name
    benchmark.extra_info.update(
        impl=impl, V=n_verts, F=n_tris, shape=list(vol.shape), dtype=vol.dtype.name, level=level,
        volume_bytes=vol.nbytes, read_GBps=round(gbps, 1), floor_ms_at_GBps=vol.nbytes / gbps / 1e6, **info)

    rounds = min(50, max(3, int(TARGET_S / first_s)))
    assert benchmark.pedantic(run, rounds=rounds) == (n_verts, n_tris)
    assert n_verts > 0 and n_tris > 0
    if impl.startswith("vrnfast") and volume.ref_verts is not None:
        # one vertex per crossed edge with the same "value > level" rule as skimage's Lorensen
        assert n_verts == volume.ref_verts
