"""Affine warps of volumes (B, D, H, W) and images (B, C, H, W): one gather per output voxel.

A matrix maps an output voxel's index coordinates (x, y, z) = (w, h, d) (images: (x, y)) to input
index coordinates; samples outside the input are zero. Backends: "cpp" (vrnfast._C, CPU tensors),
"triton" (vrnfast.kernels.warp: CUDA tensors, or CPU tensors under TRITON_INTERPRET=1), "reference"
(F.affine_grid + F.grid_sample with align_corners=True, padding_mode="zeros").
"""
from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

from .. import _backend as B
from ..kernels.dtypes import WARP_KERNEL_DTYPES, WARP_VOLUME_DTYPES
from ..runtime import to_device

_SUPPORTED = {"reference", "cpp", "triton"}
_MODES = ("nearest", "trilinear")


def warp_volume(volume, matrix, mode="nearest", out_shape=None, backend="auto", out_dtype=None):
    """Resample `volume` through `matrix` (B, 3, 4) or (3, 4): one matrix per sample, applied to
    every channel, in one kernel call.

    volume: (B, C, D, H, W), (B, D, H, W) or (D, H, W); a torch tensor (CPU or CUDA), a numpy
    array or a CuPy array (returned in its own library); uint8, bool, int16, uint16, int32 or
    float (16, bf16, 32, 64). nearest rounds half away from zero and keeps the dtype; trilinear
    returns float32 (or `out_dtype`, a float dtype) and equals grid_sample(..., align_corners=True,
    padding_mode="zeros"). out_shape: (D, H, W) of the output, default the input's.
    """
    volume, back = _as_torch(volume, "volume")
    channels = volume.dim() == 5
    if channels:  # (B, C, ...) -> (B C, ...): every channel of a sample through its matrix
        b, c = volume.shape[:2]
        matrix = _matrices(matrix, volume[:, 0], (3, 4), "matrix").repeat_interleave(c, dim=0)
        volume = volume.reshape(b * c, *volume.shape[2:])
    vol, batched = _batched(volume, "volume", 4, WARP_VOLUME_DTYPES)
    if mode not in _MODES:
        raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
    if out_dtype is not None and not isinstance(out_dtype, torch.dtype):  # a numpy dtype
        import numpy as np

        out_dtype = torch.from_numpy(np.empty(0, out_dtype)).dtype
    if out_dtype is not None and (mode != "trilinear" or not out_dtype.is_floating_point):
        raise ValueError(f"out_dtype is for trilinear warps, a float dtype; got {out_dtype} with mode {mode!r}")
    out_shape = _out_shape(out_shape, vol.shape[1:])
    mat = _matrices(matrix, vol, (3, 4), "matrix")
    backend = B.resolve_backend("warp_volume", B.array_kind(vol, "volume"), backend, _SUPPORTED)
    if vol.dtype == torch.bool and mode == "nearest":
        out = warp_volume(vol.view(torch.uint8), mat, mode, out_shape, backend).view(torch.bool)
    elif backend == "reference":
        out = _reference_volume(vol, mat, mode, out_shape)
    else:
        out = torch.empty((vol.shape[0], *out_shape), dtype=vol.dtype if mode == "nearest" else torch.float32,
                          device=vol.device)
        if out.numel():
            if backend == "cpp":
                ext = B.cpu_ext()
                m64 = mat.to(torch.float64).contiguous()
                ext.warp_volume(vol.data_ptr(), ext.dtypes[B.dtype_name(vol)], tuple(vol.shape), tuple(vol.stride()),
                                m64.data_ptr(), out_shape, mode == "trilinear", out.data_ptr(), B.threads_arg())
            else:
                from ..kernels.warp import warp_volume as triton_warp_volume

                triton_warp_volume(vol, mat, mode == "trilinear", out)
    if out_dtype is not None:
        out = out.to(out_dtype)
    if channels:
        out = out.reshape(b, c, *out.shape[1:])
    elif not batched:
        out = out[0]
    return back(out)


def _as_torch(x, name):
    """(a torch tensor of x, the function giving a result back in x's library): numpy arrays and
    CuPy arrays (through DLPack, on their device) become tensors."""
    if isinstance(x, torch.Tensor):
        return x, lambda t: t
    kind = B.array_kind(x, name)
    if kind == "numpy":
        import numpy as np

        a = x if x.dtype != np.bool_ else x.view(np.uint8)
        t = torch.from_numpy(np.ascontiguousarray(a) if any(s < 0 for s in a.strides) else a)
        t = t.view(torch.bool) if x.dtype == np.bool_ else t
        return t, lambda out: out.numpy()
    if kind == "cupy":
        import cupy

        return torch.from_dlpack(x), lambda out: cupy.from_dlpack(out)
    raise TypeError(f"{name} must be a torch tensor, numpy array or CuPy array, got {type(x).__name__}")


def warp_image(image, matrix2d, colour_scale=None, backend="auto"):
    """Bilinear resample of `image` (B, C, H, W) or (C, H, W) through `matrix2d` (B, 2, 3), times a
    per-channel `colour_scale` (B, C) or (C,); same dtype out (uint8: rounded, clamped to 0..255)."""
    img, batched = _batched(image, "image", 4)
    mat = _matrices(matrix2d, img, (2, 3), "matrix2d")
    scale = None
    if colour_scale is not None:
        scale = torch.as_tensor(colour_scale, dtype=torch.float32)  # stays where it is given
        if scale.dim() == 1:
            scale = scale.expand(img.shape[0], -1)
        if scale.shape != img.shape[:2]:
            raise ValueError(f"colour_scale must have shape {tuple(img.shape[:2])} (B, C) or ({img.shape[1]},), "
                             f"got {tuple(torch.as_tensor(colour_scale).shape)}")
        scale = _checked_on(scale, img, "colour_scale").contiguous()
    backend = B.resolve_backend("warp_image", B.array_kind(img, "image"), backend, _SUPPORTED)
    if backend == "reference":
        out = _reference_image(img, mat, scale)
    else:
        out = torch.empty(img.shape, dtype=img.dtype, device=img.device)
        if out.numel():
            if backend == "cpp":
                ext = B.cpu_ext()
                m64 = mat.to(torch.float64).contiguous()
                ext.warp_image(img.data_ptr(), ext.dtypes[B.dtype_name(img)], tuple(img.shape), tuple(img.stride()),
                               m64.data_ptr(), scale.data_ptr() if scale is not None else 0, out.data_ptr(),
                               B.threads_arg())
            else:
                from ..kernels.warp import warp_image as triton_warp_image

                triton_warp_image(img, mat, scale, out)
    return out if batched else out[0]


# ---- validation ---------------------------------------------------------------------------------



def _dtype_names(dtypes):
    return ", ".join(str(d).replace("torch.", "") for d in dtypes)


def _batched(x, name, ndim, dtypes=WARP_KERNEL_DTYPES):
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch tensor, got {type(x).__name__}")
    B.array_kind(x, name)  # CPU or CUDA
    if x.dim() == ndim - 1:
        x, batched = x.unsqueeze(0), False
    elif x.dim() == ndim:
        batched = True
    else:
        extra = " (or 5-D with channels)" if name == "volume" else ""
        raise ValueError(f"{name} must be {ndim}-D (batched){extra} or {ndim - 1}-D, got shape {tuple(x.shape)}")
    if x.dtype not in dtypes:
        raise TypeError(f"{name} must be one of {_dtype_names(dtypes)}; got {x.dtype}")
    if min(x.shape[1:], default=1) < 1:
        raise ValueError(f"{name} has an empty dimension: shape {tuple(x.shape)}")
    return x, batched


def _out_shape(out_shape, default):
    return tuple(int(s) for s in default) if out_shape is None else B.check_shape3(out_shape, "out_shape")


def _matrices(matrix, x, rows_cols, name):
    if not isinstance(matrix, torch.Tensor):
        matrix = torch.as_tensor(matrix, dtype=torch.float64)
    if matrix.dtype.is_complex or not matrix.is_floating_point():
        raise TypeError(f"{name} must be a float tensor, got {matrix.dtype}")
    if matrix.dim() == 2:
        matrix = matrix.unsqueeze(0).expand(x.shape[0], -1, -1)
    if tuple(matrix.shape) != (x.shape[0], *rows_cols):
        raise ValueError(f"{name} must have shape ({x.shape[0]}, {rows_cols[0]}, {rows_cols[1]}) for a batch of "
                         f"{x.shape[0]}, got {tuple(matrix.shape)}")
    return _checked_on(matrix, x, name)


def _checked_on(t, x, name):
    """t, checked finite, on x's device. A CPU t is checked where it is and then copied without
    blocking: for CUDA data given CPU matrices (as augment gives them) the host never waits for
    the GPU. A t already on the GPU is checked there, which waits for it."""
    if t.device != x.device and t.device.type != "cpu":
        raise ValueError(f"{name} is on {t.device}, the data on {x.device}: give it on the data's device or the CPU")
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite")
    return to_device(t, x.device)


# ---- references: affine_grid + grid_sample ------------------------------------------------------

def _index_to_normalized(sizes, dtype, device):
    """(n+1)x(n+1) homogeneous map from index coordinates to align_corners=True normalized ones."""
    n = len(sizes)
    a = torch.eye(n + 1, dtype=dtype, device=device)
    for i, s in enumerate(sizes):
        a[i, i] = 2.0 / (s - 1) if s > 1 else 1.0
        a[i, n] = -1.0 if s > 1 else 0.0
    return a


def _normalized_theta(mat, in_sizes, out_sizes):
    """theta for affine_grid from an index-space matrix (sizes in (x, y[, z]) order)."""
    n = len(in_sizes)
    m = torch.cat([mat.double(), torch.zeros(mat.shape[0], 1, n + 1, dtype=torch.float64, device=mat.device)], 1)
    m[:, n, n] = 1.0
    to_in = _index_to_normalized(in_sizes, torch.float64, mat.device)
    from_out = torch.linalg.inv(_index_to_normalized(out_sizes, torch.float64, mat.device))
    return (to_in @ m @ from_out)[:, :n, :]


def _pad_unit_axes(x, ndim):
    """Zero-pads size-1 spatial axes to 2: with align_corners=True, grid_sample maps every
    coordinate of a size-1 axis onto its one sample instead of treating the outside as zeros."""
    pad = []
    for size in reversed(x.shape[-ndim:]):
        pad += [0, 1 if size == 1 else 0]
    return F.pad(x, pad) if any(pad) else x


def _affine_grid(theta, size):
    # a unit-size output axis sits at normalized 0, as _index_to_normalized assumes; affine_grid
    # warns that this is so (since PyTorch 1.3) each time
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*unit-size grids.*", category=UserWarning)
        return F.affine_grid(theta.float(), size, align_corners=True)


def _reference_volume(vol, mat, mode, out_shape):
    vol = _pad_unit_axes(vol, 3)
    b, d, h, w = vol.shape
    theta = _normalized_theta(mat, (w, h, d), out_shape[::-1])
    grid = _affine_grid(theta, (b, 1, *out_shape))
    # float64 where float32 would round the data (int32, float64)
    wide = vol.dtype in (torch.int32, torch.float64)
    out = F.grid_sample(vol.unsqueeze(1).double() if wide else vol.unsqueeze(1).float(), grid.to(torch.float64)
                        if wide else grid, mode="nearest" if mode == "nearest" else "bilinear",
                        padding_mode="zeros", align_corners=True)[:, 0]
    return out.to(vol.dtype) if mode == "nearest" else out.float()


def _reference_image(img, mat, scale):
    b, c, h, w = img.shape
    padded = _pad_unit_axes(img, 2)
    theta = _normalized_theta(mat, tuple(padded.shape[:1:-1]), (w, h))
    grid = _affine_grid(theta, (b, c, h, w))
    out = F.grid_sample(padded.float(), grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    if scale is not None:
        out = out * scale[:, :, None, None]
    if img.dtype == torch.uint8:
        return out.round().clamp(0, 255).to(torch.uint8)
    return out.to(img.dtype)
