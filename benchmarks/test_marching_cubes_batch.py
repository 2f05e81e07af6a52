"""Marching cubes on a batch: one batched call against a loop of single calls and against
scikit-image (a loop: it takes one volume per call), on the CPU and, where there is one, the GPU.

Batches: 8 faces, as the synthetic training targets (uint8 occupancy, 200 x 192 x 192 each) and as
the same volumes softened into float32 probabilities, the way a network predicts them; and 64
smooth-noise patches of 32^3, where a single call is too small to keep the threads busy. Every
implementation's vertex counts are checked equal to scikit-image's Lorensen per volume first.
"""
from __future__ import annotations

import time

import numpy as np
import pytest

import vrnfast
from vrnfast._backend import has_cuda_ext

from conftest import FACE_SHAPE

TARGET_S = 1.5


def _soften(volume: np.ndarray) -> np.ndarray:
    """A probability volume whose 0.5 surface is the occupancy's: a 3x3x3 box blur."""
    ndimage = pytest.importorskip("scipy.ndimage", reason="scipy not installed")
    return ndimage.uniform_filter(volume.astype(np.float32), size=3, mode="nearest")


@pytest.fixture(scope="module", params=["8 faces, uint8 targets", "8 faces, float32 predictions",
                                        "64 noise patches of 32^3"])
def batch(request):
    from vrnfast.data import random_smooth
    from vrnfast.data.synthetic import synthetic_sample

    if request.param.startswith("64"):
        vols = np.stack([random_smooth((32,) * 3, sigma=2.0, seed=i) for i in range(64)]) + 0.5
    else:
        depth, size = FACE_SHAPE[0], FACE_SHAPE[1]
        vols = np.stack([synthetic_sample(i, seed=1, size=size, depth=depth)["volume"] for i in range(8)])
        if "float32" in request.param:
            vols = np.stack([_soften(v) for v in vols])
    sk_mc = pytest.importorskip("skimage.measure", reason="scikit-image not installed").marching_cubes
    return request.param, vols, [len(sk_mc(v, 0.5, method="lorensen")[0]) for v in vols]


def _counts(meshes):
    return [(len(m[0]), len(m[1])) for m in meshes]


def batched(vols, backend):
    return lambda: vrnfast.marching_cubes(vols, 0.5, backend=backend)


def loop(vols, backend):
    return lambda: [vrnfast.marching_cubes(v, 0.5, backend=backend) for v in vols]


def skimage_loop(vols, _):
    sk_mc = pytest.importorskip("skimage.measure", reason="scikit-image not installed").marching_cubes
    return lambda: [sk_mc(v, 0.5, method="lewiner")[:2] for v in vols]


def _on_gpu(vols):
    torch = pytest.importorskip("torch", reason="torch not installed")
    if not (has_cuda_ext() and torch.cuda.is_available()):
        pytest.skip("no CUDA device or no vrnfast._cuda")
    return torch.from_numpy(vols).cuda()


def cuda(make):
    def prepare(vols, _):
        import torch

        run = make(_on_gpu(vols), "cuda")

        def synced():
            out = run()
            torch.cuda.synchronize()
            return out

        return synced

    return prepare


def _threads(impl, device):
    if device == "cuda":
        return "gpu"
    return 1 if impl.startswith("skimage") else vrnfast.get_num_threads()


IMPLS = {
    "vrnfast cpp, batched": (lambda v, _: batched(v, "cpp"), "cpu"),
    "vrnfast cpp, loop of single calls": (lambda v, _: loop(v, "cpp"), "cpu"),
    "skimage lewiner, loop": (skimage_loop, "cpu"),
    "vrnfast cuda, batched": (cuda(batched), "cuda"),
    "vrnfast cuda, loop of single calls": (cuda(loop), "cuda"),
}


@pytest.mark.parametrize("impl", list(IMPLS), ids=[n.replace(" ", "_").replace(",", "") for n in IMPLS])
def test_marching_cubes_batch(benchmark, request, batch, host_read_gbps, impl):
    what, vols, ref = batch
    make, device = IMPLS[impl]
    run = make(vols, None)
    t0 = time.perf_counter()
    counts = _counts(run())  # warm-up, and it sizes the rounds
    first_s = time.perf_counter() - t0
    if not impl.startswith("skimage"):  # one vertex per crossed edge, as Lorensen's
        assert [v for v, _ in counts] == ref

    gbps = request.getfixturevalue("cuda_copy_gbps") if device == "cuda" else host_read_gbps
    benchmark.group = f"marching cubes on a batch: {what}"
    benchmark.extra_info.update(
        impl=impl, V=sum(v for v, _ in counts), F=sum(f for _, f in counts), shape=list(vols.shape),
        dtype=vols.dtype.name, level=0.5, volume_bytes=vols.nbytes, read_GBps=round(gbps, 1),
        floor_ms_at_GBps=vols.nbytes / gbps / 1e6, threads=_threads(impl, device),
        baseline=impl == "vrnfast cpp, batched")
    rounds = min(30, max(3, int(TARGET_S / first_s)))
    assert _counts(benchmark.pedantic(run, rounds=rounds)) == counts
