"""Shared fixtures for the benchmarks: volumes (built once per session) and memory bandwidths.

VRNFAST_BENCH_SMALL=1 shrinks every volume so `pytest benchmarks/ --benchmark-disable` is a quick
smoke run.
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata

import numpy as np
import pytest

SMALL = os.environ.get("VRNFAST_BENCH_SMALL") == "1"
FACE_SHAPE = (50, 48, 48) if SMALL else (200, 192, 192)
NOISE_SHAPE = (48,) * 3 if SMALL else (256,) * 3
NOISE_SIGMA = 4.0  # ~2.8M vertices / 5.6M triangles at 256^3
BANDWIDTH_BYTES = (64 if SMALL else 256) << 20


@dataclass
class Volume:
    name: str
    array: np.ndarray
    level: float
    ref_verts: int | None  # skimage lorensen's vertex count (None without skimage)


@lru_cache(maxsize=None)
def _face() -> np.ndarray:
    from vrnfast.data import face_volume

    return face_volume(FACE_SHAPE)


def _build(name: str) -> tuple[np.ndarray, float]:
    if name == "face":
        return _face(), 0.5
    if name == "face_u8":
        return (_face() > 0.5).astype(np.uint8), 0.5
    if name == "noise256":
        from vrnfast.data import random_smooth

        return random_smooth(NOISE_SHAPE, sigma=NOISE_SIGMA, seed=0), 0.0
    raise AssertionError(name)


VOLUMES = ("face", "face_u8", "noise256")


@pytest.fixture(scope="session", params=VOLUMES)
def volume(request) -> Volume:
    vol, level = _build(request.param)
    try:
        from skimage.measure import marching_cubes as sk_mc

        ref = len(sk_mc(vol, level, method="lorensen")[0])
    except ImportError:
        ref = None
    return Volume(request.param, vol, level, ref)


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


@pytest.fixture(scope="session")
def host_read_gbps() -> float:
    """Host read bandwidth: best of 5 sums of a large float32 array split over all cores."""
    a = np.ones(BANDWIDTH_BYTES // 4, np.float32)
    n = os.cpu_count() or 1
    chunks = np.array_split(a, n)
    with ThreadPoolExecutor(n) as ex:  # np.add.reduce releases the GIL
        t = best_time(lambda: list(ex.map(np.add.reduce, chunks)), 5)
    return a.nbytes / t / 1e9


@pytest.fixture(scope="session")
def cuda_copy_gbps() -> float:
    """Device bandwidth: bytes read + written per second by a large device-to-device copy_()."""
    import torch

    src = torch.empty(BANDWIDTH_BYTES * 4, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)

    def copy():
        dst.copy_(src)
        torch.cuda.synchronize()

    copy()
    return 2 * src.numel() / best_time(copy, 10) / 1e9


def _bench_table():
    """tools/bench_table.py, the README's table renderer (the benchmarks run from a clone)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location(
        "bench_table", Path(__file__).resolve().parent.parent / "tools" / "bench_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pytest_sessionstart(session):
    session.config._vrnfast_bench_start = time.perf_counter()


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's own wide table
def pytest_terminal_summary(terminalreporter, config):
    """The README's compact tables (each implementation's median, "N x faster / slower" than
    vrnfast) for what this run measured, and how long the run took."""
    session = getattr(config, "_benchmarksession", None)
    benches = [b for b in getattr(session, "benchmarks", []) if b and not b.has_error]
    if not benches:
        return
    data = config.hook.pytest_benchmark_generate_json(
        config=config, benchmarks=benches, include_data=False, machine_info=session.get_machine_info(),
        commit_info={})
    tr = terminalreporter
    tr.write_sep("=", "vrnfast against its references (median; the README's tables)")
    for line in _bench_table().tables(data):
        tr.write_line(line)
    start = getattr(config, "_vrnfast_bench_start", None)
    if start is not None:
        tr.write_line(f"\n{len(benches)} benchmarks in {time.perf_counter() - start:.0f} s")


def pytest_benchmark_update_machine_info(config, machine_info):
    versions = {}
    for dist in ("vrnfast", "numpy", "torch", "scikit-image", "PyMCubes", "vtk"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    machine_info["versions"] = versions
    machine_info["bench_small"] = SMALL


def _rss_hwm_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_extra_bytes(step, device):
    """Memory a step adds at its peak, beyond what is allocated before it (CPU: the resident-set
    high-water mark, approximate when freed memory is reused; CUDA: the allocator's peak)."""
    if device == "cuda":
        import torch

        torch.cuda.synchronize()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        step()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated() - base
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets the resident-set high-water mark
    except OSError:
        return None
    base = _rss_hwm_bytes()
    step()
    return _rss_hwm_bytes() - base
