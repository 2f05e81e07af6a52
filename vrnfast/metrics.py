"""Evaluation metrics (numpy in, float out)."""
from __future__ import annotations

import numpy as np

from . import _backend as B


def iou(pred_volume, gt_volume, level=0.5) -> float:
    """Intersection over union of the voxels > level in two volumes of the same shape (1.0 when
    both are empty)."""
    p = np.asarray(B.to_numpy(pred_volume, B.array_kind(pred_volume, "pred_volume"))) > level
    g = np.asarray(B.to_numpy(gt_volume, B.array_kind(gt_volume, "gt_volume"))) > level
    if p.shape != g.shape:
        raise ValueError(f"pred_volume {p.shape} and gt_volume {g.shape} must have one shape")
    union = np.count_nonzero(p | g)
    return 1.0 if union == 0 else np.count_nonzero(p & g) / union
