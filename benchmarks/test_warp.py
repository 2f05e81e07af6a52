"""Volumetric augmentation (an affine warp of the target volume): vrnfast on the uint8 occupancy
against the usual PyTorch way, F.affine_grid + F.grid_sample on a float32 copy, per mode, batch
size and device.

    pytest benchmarks/test_warp.py --benchmark-only --benchmark-json out.json && python tools/bench_table.py out.json

The matrices are the paper's augmentation (rotation +-45 deg, translation +-15 px, scale 0.85-1.15,
flips) from vrnfast.AugmentParams; the volume is a solid ellipsoid filling about half the box.
extra_info: the bytes each implementation must move (its own input read once, its output written
once; grid_sample's sampling grid is not counted: it is overhead of that way), the GB/s that
implies, and the peak memory a call adds (CPU: resident-set high-water mark; CUDA: allocator peak).
"""
from __future__ import annotations

import math
from functools import lru_cache

import pytest
import torch
import torch.nn.functional as F

import vrnfast

from conftest import SMALL, peak_extra_bytes

VOLUME_SHAPE = (20, 19, 19) if SMALL else (200, 192, 192)  # (D, H, W)
BATCHES = (1, 8)
MODES = ("nearest", "trilinear")
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
IMPLS = ("torch grid_sample", "vrnfast")


@lru_cache(maxsize=1)
def _ellipsoid() -> torch.Tensor:
    """(D, H, W) uint8 solid ellipsoid centred in the box, about half of its voxels set."""
    r = (3 / math.pi) ** (1 / 3)  # pi/6 * r^3 = 1/2 of the box
    axes = [torch.linspace(-1, 1, n, dtype=torch.float64) / r for n in VOLUME_SHAPE]
    z, y, x = torch.meshgrid(*axes, indexing="ij")
    return (x * x + y * y + z * z <= 1).to(torch.uint8)


@lru_cache(maxsize=1)
def _inputs(b: int, device: str):
    """uint8 volumes (B, D, H, W), their float32 copies, and the (B, 3, 4) float64 index-space
    matrices, all on `device`; cached per (B, device) so a group's cases share them."""
    u8 = _ellipsoid().expand(b, *VOLUME_SHAPE).contiguous().to(device)
    # a training pipeline without vrnfast already holds float targets: the copy is made here, outside
    # the timed region, not charged to the reference
    f32 = u8.float()
    d, h, w = VOLUME_SHAPE
    _, m3 = vrnfast.AugmentParams.sample(b, generator=torch.Generator().manual_seed(0)).matrices(h, w, d)
    return u8, f32, m3.to(device)


def _index_to_normalized(sizes):
    """(n+1)x(n+1) homogeneous map from index coordinates to align_corners=True normalized ones."""
    n = len(sizes)
    a = torch.eye(n + 1, dtype=torch.float64)
    for i, s in enumerate(sizes):
        a[i, i], a[i, n] = 2.0 / (s - 1), -1.0
    return a


def affine_theta(m3: torch.Tensor) -> torch.Tensor:
    """affine_grid's (B, 3, 4) theta from index-space matrices (same input and output shape)."""
    d, h, w = VOLUME_SHAPE
    norm = _index_to_normalized((w, h, d)).to(m3.device)
    hom = torch.cat([m3.double(), torch.tensor([[[0, 0, 0, 1.0]]], dtype=torch.float64,
                                               device=m3.device).expand(m3.shape[0], 1, 4)], 1)
    return (norm @ hom @ torch.linalg.inv(norm))[:, :3, :].float()


def torch_grid_sample(f32, theta, mode):
    grid = F.affine_grid(theta, (f32.shape[0], 1, *f32.shape[1:]), align_corners=True)
    # 5-D "bilinear" is trilinear
    return F.grid_sample(f32.unsqueeze(1), grid, mode="nearest" if mode == "nearest" else "bilinear",
                         padding_mode="zeros", align_corners=True)[:, 0]


@pytest.mark.parametrize("impl", IMPLS, ids=lambda s: s.replace(" ", "_"))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("b", BATCHES, ids=lambda b: f"B{b}")
@pytest.mark.parametrize("device", DEVICES)  # outermost: the cached inputs are built once per (device, B)
def test_warp_volume(benchmark, impl, mode, b, device):
    u8, f32, m3 = _inputs(b, device)
    theta = affine_theta(m3)  # once per batch, as a pipeline builds its matrices: not timed
    backend = "triton" if device == "cuda" else "cpp"
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def reference():
        out = torch_grid_sample(f32, theta, mode)
        sync()
        return out

    def fast():
        out = vrnfast.warp_volume(u8, m3, mode, backend=backend)
        sync()
        return out

    step = reference if impl == "torch grid_sample" else fast

    # correctness on the same inputs (doubles as a warm-up: Triton compiles here)
    ref, got = reference(), fast()
    assert got.dtype == (torch.uint8 if mode == "nearest" else torch.float32)
    assert got.shape == ref.shape == u8.shape
    if mode == "nearest":
        mismatch = (got.float() != ref).double().mean().item()  # only exact rounding ties may differ
        assert mismatch < 1e-3, mismatch
    else:
        mismatch = (got - ref).abs().max().item()  # values in 0..1
        assert mismatch < 1e-3, mismatch
    assert 0 < ref.count_nonzero() < ref.numel()  # the warp kept part of the ellipsoid in view
    del ref, got

    n = u8.numel()
    if impl == "vrnfast":
        target_dtype, moved = "uint8", n * (1 + (1 if mode == "nearest" else 4))
        threads = "gpu" if device == "cuda" else vrnfast.get_num_threads()
    else:
        target_dtype, moved = "float32", n * (4 + 4)
        threads = "gpu" if device == "cuda" else torch.get_num_threads()
    extra = peak_extra_bytes(step, device)
    benchmark.group = f"warp {mode} B{b} {device}"
    benchmark.extra_info.update(
        impl=impl, mode=mode, shape=[b, *VOLUME_SHAPE], device=device, target_dtype=target_dtype,
        bytes_moved=moved, threads=threads, peak_extra_MB=None if extra is None else round(extra / 2**20, 1),
        backend=backend if impl == "vrnfast" else "affine_grid + grid_sample", check=mismatch,
        note=f"{mode} warp of the target volume; GB/s counts the input read and the output written")
    if device == "cuda":
        benchmark.extra_info["device_name"] = torch.cuda.get_device_name()
    rounds = 3 if SMALL or (b == 8 and device == "cpu") else 5
    benchmark.pedantic(step, rounds=rounds, warmup_rounds=1)
