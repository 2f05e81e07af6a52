"""Triton kernels of vrnfast.warp_volume / warp_image: one program per output row segment, each
output voxel's source coordinate computed on the fly from the matrix (no grid tensor), one masked
gather (nearest) or eight (trilinear) per voxel. Coordinates are mapped in float64, in the order
of csrc/warp/warp_map.h and without fused multiply-adds, so nearest picks the voxels the CPU picks,
exact .5 ties included.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._device import INDEX, POINTER, LaunchConfig, on_device

BLOCK_W = 128
OPTIONS = dict(num_warps=4, enable_fp_fusion=False)  # no FMA: the coordinate map's roundings


@triton.jit
def _map_row(m_ptr, w, h, d, K: tl.constexpr):
    """Row K of the affine map at output (w, h, d), in the order of csrc/warp/warp_map.h:
    (m[K,1] h + m[K,2] d + m[K,3]) + m[K,0] w."""
    row = tl.load(m_ptr + 4 * K + 1) * h + tl.load(m_ptr + 4 * K + 2) * d + tl.load(m_ptr + 4 * K + 3)
    return row + tl.load(m_ptr + 4 * K) * w


@triton.jit
def _nearest_index(c, n):
    """Round half away from zero; (index, in range). See csrc/warp/warp_map.h."""
    u = c + 0.5
    ok = (u > 0.0) & (u < n)
    return tl.where(ok, u, 0.0).to(tl.int64), ok


@triton.jit
def _lerp_axis(c, n):
    """Linear interpolation along one axis (warp::lerp_axis in csrc/warp/warp_map.h): the lower
    corner's index, the weight of the upper one, and whether any corner can count (far-out and NaN
    coordinates give none)."""
    f = tl.floor(c)
    near = (f >= -1.0) & (f <= n - 1)
    return tl.where(near, f, 0.0).to(tl.int64), (c - f).to(tl.float32), near


@triton.jit
def _warp_volume_kernel(src, dst, mat, D, H, W, s_b, s_d, s_h, s_w, oD, oH, oW,
                        TRILINEAR: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    h = row % oH
    d = (row // oH) % oD
    b = (row // oH) // oD  # in int64 like row: a product oH * oD would be int32
    w = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    in_row = w < oW
    m = mat + b * 12
    wf = w.to(tl.float64)
    hf = h.to(tl.float64)
    df = d.to(tl.float64)
    xs = _map_row(m, wf, hf, df, 0)
    ys = _map_row(m, wf, hf, df, 1)
    zs = _map_row(m, wf, hf, df, 2)
    base = src + b * s_b
    if TRILINEAR:
        ix, tx, nx = _lerp_axis(xs, W)
        iy, ty, ny = _lerp_axis(ys, H)
        iz, tz, nz = _lerp_axis(zs, D)
        near = nx & ny & nz
        acc = tl.zeros([BLOCK], dtype=tl.float32)
        for cz in tl.static_range(2):
            for cy in tl.static_range(2):
                for cx in tl.static_range(2):
                    jx = ix + cx
                    jy = iy + cy
                    jz = iz + cz
                    ok = in_row & near & (jx >= 0) & (jx < W) & (jy >= 0) & (jy < H) & (jz >= 0) & (jz < D)
                    v = tl.load(base + jz * s_d + jy * s_h + jx * s_w, mask=ok, other=0).to(tl.float32)
                    wx = tx if cx == 1 else 1.0 - tx
                    wy = ty if cy == 1 else 1.0 - ty
                    wz = tz if cz == 1 else 1.0 - tz
                    acc += (wz * wy * wx) * v
        tl.store(dst + row * oW + w, acc, mask=in_row)
    else:
        ix, okx = _nearest_index(xs, W)
        iy, oky = _nearest_index(ys, H)
        iz, okz = _nearest_index(zs, D)
        ok = in_row & okx & oky & okz
        v = tl.load(base + iz * s_d + iy * s_h + ix * s_w, mask=ok, other=0)
        tl.store(dst + row * oW + w, v, mask=in_row)


@triton.jit
def _warp_image_kernel(src, dst, mat, scale, C, H, W, s_b, s_c, s_h, s_w,
                       HAS_SCALE: tl.constexpr, TO_U8: tl.constexpr, BLOCK: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    h = row % H
    c = (row // H) % C
    b = (row // H) // C
    w = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    in_row = w < W
    m = mat + b * 8  # the 2x3 map, padded to 2x4 rows so _map_row serves both kernels
    wf = w.to(tl.float64)
    hf = h.to(tl.float64)
    xs = _map_row(m, wf, hf, 0.0, 0)
    ys = _map_row(m, wf, hf, 0.0, 1)
    ix, tx, nx = _lerp_axis(xs, W)
    iy, ty, ny = _lerp_axis(ys, H)
    near = nx & ny
    base = src + b * s_b + c * s_c
    acc = tl.zeros([BLOCK], dtype=tl.float32)
    for cy in tl.static_range(2):
        for cx in tl.static_range(2):
            jx = ix + cx
            jy = iy + cy
            ok = in_row & near & (jx >= 0) & (jx < W) & (jy >= 0) & (jy < H)
            v = tl.load(base + jy * s_h + jx * s_w, mask=ok, other=0).to(tl.float32)
            wx = tx if cx == 1 else 1.0 - tx
            wy = ty if cy == 1 else 1.0 - ty
            acc += (wy * wx) * v
    if HAS_SCALE:
        acc = acc * tl.load(scale + b * C + c)
    if TO_U8:  # round half to even, from the fraction (floor(acc + 0.5) misrounds 0.49999997)
        r = tl.floor(acc)
        f = acc - r
        odd = r - 2.0 * tl.floor(r * 0.5) != 0.0
        r = tl.where((f > 0.5) | ((f == 0.5) & odd), r + 1.0, r)
        acc = tl.minimum(tl.maximum(r, 0.0), 255.0)
    tl.store(dst + row * W + w, acc.to(dst.dtype.element_ty), mask=in_row)


def _volume_constexprs(trilinear):
    return dict(TRILINEAR=trilinear, BLOCK=BLOCK_W)


def _image_constexprs(has_scale, dtype):
    return dict(HAS_SCALE=has_scale, TO_U8=dtype == torch.uint8, BLOCK=BLOCK_W)


def warp_volume(vol, mat, trilinear, out):
    b, d, h, w = vol.shape
    _, od, oh, ow = out.shape
    m = mat.to(device=vol.device, dtype=torch.float64).contiguous()
    grid = (b * od * oh, triton.cdiv(ow, BLOCK_W))
    with on_device(vol):
        _warp_volume_kernel[grid](vol, out, m, d, h, w, *vol.stride(), od, oh, ow, **_volume_constexprs(trilinear),
                                  **OPTIONS)


def warp_image(img, mat, scale, out):
    b, c, h, w = img.shape
    # the 2x3 map as 2x4 rows (x, y, 0, t), so _map_row serves both kernels; built on the device
    # (an index list would be a blocking host-to-device copy)
    m = mat.to(device=img.device, dtype=torch.float64)
    m = torch.cat([m[:, :, :2], torch.zeros_like(m[:, :, :1]), m[:, :, 2:]], dim=2).contiguous()
    grid = (b * c * h, triton.cdiv(w, BLOCK_W))
    with on_device(img):
        _warp_image_kernel[grid](img, out, m, scale if scale is not None else m, c, h, w, *img.stride(),
                                 **_image_constexprs(scale is not None, img.dtype), **OPTIONS)


def launch_configs():
    """Every configuration the launchers above compile: each volume and image dtype that
    vrnfast.warp_volume / warp_image hand them (bool volumes are warped nearest as uint8), each
    constexpr branch; 32-bit sizes and strides, and a batch stride past 2^31 elements."""
    from .dtypes import WARP_KERNEL_DTYPES, WARP_VOLUME_DTYPES

    ints = ("D", "H", "W", "s_b", "s_d", "s_h", "s_w", "oD", "oH", "oW")
    for trilinear in (False, True):
        for dtype in WARP_VOLUME_DTYPES:
            if dtype == torch.bool and not trilinear:
                continue
            out = POINTER[torch.float32] if trilinear else POINTER[dtype]
            for index in INDEX:
                sig = {"src": POINTER[dtype], "dst": out, "mat": "*fp64", **dict.fromkeys(ints, "i32"), "s_b": index}
                yield LaunchConfig(_warp_volume_kernel, sig, _volume_constexprs(trilinear), OPTIONS,
                                   f"{'trilinear' if trilinear else 'nearest'}, {POINTER[dtype][1:]}, s_b {index}")
    ints = ("C", "H", "W", "s_b", "s_c", "s_h", "s_w")
    for has_scale in (False, True):
        for dtype in WARP_KERNEL_DTYPES:
            for index in INDEX:
                sig = {"src": POINTER[dtype], "dst": POINTER[dtype], "mat": "*fp64",
                       "scale": "*fp32" if has_scale else "*fp64", **dict.fromkeys(ints, "i32"), "s_b": index}
                yield LaunchConfig(_warp_image_kernel, sig, _image_constexprs(has_scale, dtype), OPTIONS,
                                   f"{POINTER[dtype][1:]}{', colour scale' * has_scale}, s_b {index}")
