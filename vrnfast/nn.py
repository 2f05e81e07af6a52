"""torch.nn modules over vrnfast's fused ops."""
from __future__ import annotations

import torch

from .ops.sigmoid_bce import sigmoid_bce


class SigmoidBCELoss(torch.nn.Module):
    """nn.BCEWithLogitsLoss, fused: loss and gradient in one pass (see vrnfast.sigmoid_bce)."""

    def __init__(self, pos_weight=None, reduction="mean", backend="auto", inplace=False):
        super().__init__()
        if isinstance(pos_weight, torch.Tensor):
            self.register_buffer("pos_weight", pos_weight)
        else:
            self.pos_weight = pos_weight
        self.reduction, self.backend, self.inplace = reduction, backend, inplace

    def forward(self, logits, target):
        return sigmoid_bce(logits, target, self.pos_weight, self.reduction, self.backend, self.inplace)

    def extra_repr(self):
        return f"reduction={self.reduction!r}, backend={self.backend!r}, inplace={self.inplace}"
