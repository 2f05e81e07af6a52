"""Launch helpers shared by the Triton kernels."""
from __future__ import annotations

import contextlib

import torch


def on_device(t):
    """Triton launches on the current CUDA device: make it t's (nothing to do for CPU tensors)."""
    return torch.cuda.device(t.device) if t.is_cuda else contextlib.nullcontext()
