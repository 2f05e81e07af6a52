"""Voxelization by brute force: every triangle tested for every voxel column."""
import numpy as np


def brute_force(xyz, faces, shape):
    """Parity of strict crossings below each voxel centre, all triangles tested for every column."""
    D, H, W = shape
    tri = xyz[faces].astype(np.float64)  # (F, 3, 3)
    out = np.zeros(shape, np.uint8)
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    for h in range(H):
        for w in range(W):
            def e(p, q):
                return (q[:, 0] - p[:, 0]) * (h - p[:, 1]) - (q[:, 1] - p[:, 1]) * (w - p[:, 0])
            l0, l1, l2 = e(b, c), e(c, a), e(a, b)
            inside = ((l0 > 0) & (l1 > 0) & (l2 > 0)) | ((l0 < 0) & (l1 < 0) & (l2 < 0))
            z = (l0 * a[:, 2] + l1 * b[:, 2] + l2 * c[:, 2])[inside] / area[inside]
            count_below = (z[None, :] < np.arange(D)[:, None]).sum(1)
            out[:, h, w] = count_below % 2
    return out
