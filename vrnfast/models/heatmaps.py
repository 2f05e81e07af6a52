"""The 68 landmarks as heatmaps and back: drawn as Gaussians at half the image's resolution (what
VRN-Guided's and VRN-Multitask's landmark heads are trained on), their peaks read back with
sub-pixel refinement, and the depth of a volume's front surface under them (3-D landmarks)."""
from __future__ import annotations

import numpy as np
import torch


def draw(landmarks, size, sigma=1.0):
    """(B, 68, size, size) Gaussians (peak 1) at the landmarks' (x, y), given in the image's
    pixels and drawn at the heatmaps' half resolution (heatmap pixel j covers image pixels 2j and
    2j + 1, centre 2j + 0.5)."""
    xy = (landmarks[..., :2] - 0.5) / 2
    grid = torch.arange(size, dtype=landmarks.dtype, device=landmarks.device)
    gx = torch.exp(-0.5 * ((grid[None, None, :] - xy[..., 0:1]) / sigma) ** 2)
    gy = torch.exp(-0.5 * ((grid[None, None, :] - xy[..., 1:2]) / sigma) ** 2)
    return gy[..., :, None] * gx[..., None, :]


def peaks(heatmaps):
    """(B, 68, h, w) heatmaps -> (B, 68, 2) (x, y) image pixels: each map's peak, refined along
    each axis by the parabola through the logs of the peak and its two neighbours (exact for a
    Gaussian), heatmap pixel j centred on image pixel 2j + 0.5 (the heatmaps' half resolution, as
    draw() draws them)."""
    h = torch.as_tensor(heatmaps).float()
    b, k, hh, ww = h.shape
    flat = h.reshape(b, k, -1).argmax(-1)
    py, px = flat // ww, flat % ww
    logs = h.clamp(min=1e-12).log()
    bi, ki = torch.arange(b)[:, None], torch.arange(k)[None, :]

    def offset(lo, mid, hi):
        curvature = 2 * mid - lo - hi
        d = torch.where(curvature > 0, (hi - lo) / (2 * curvature.clamp(min=1e-12)), torch.zeros_like(mid))
        return d.clamp(-0.5, 0.5)

    at = lambda y, x: logs[bi, ki, y.clamp(0, hh - 1), x.clamp(0, ww - 1)]
    centre = at(py, px)
    dx = torch.where((px > 0) & (px < ww - 1), offset(at(py, px - 1), centre, at(py, px + 1)), torch.zeros_like(centre))
    dy = torch.where((py > 0) & (py < hh - 1), offset(at(py - 1, px), centre, at(py + 1, px)), torch.zeros_like(centre))
    return torch.stack([2 * (px + dx) + 0.5, 2 * (py + dy) + 0.5], -1).numpy()


def front_depth(volume, xy, level=0.5):
    """Depth (z) of the first voxel > level under each (x, y) of a (D, H, W) volume; NaN where
    the column is empty."""
    v = np.asarray(volume) > level
    d, h, w = v.shape
    x = np.clip(np.rint(xy[:, 0]).astype(int), 0, w - 1)
    y = np.clip(np.rint(xy[:, 1]).astype(int), 0, h - 1)
    cols = v[:, y, x]  # (D, N)
    return np.where(cols.any(0), cols.argmax(0), np.nan).astype(np.float64)
