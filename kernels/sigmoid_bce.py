"""Triton kernels of vrnfast.sigmoid_bce: the fused forward (loss + gradient, one exp per element,
one read of logits and target, one write of the gradient) and the backward's scale.

The reduction is deterministic: each program writes the tree-sum of its block to its own slot, and
the slots are summed in a fixed order afterwards; there are no float atomics.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._device import on_device

BLOCK = 4096


@triton.jit
def _bce_fwd_kernel(x_ptr, y_ptr, pw_ptr, grad_ptr, loss_ptr, partial_ptr, n, pw_count, pw_inner, scale,
                    HAS_PW: tl.constexpr, STORE_LOSS: tl.constexpr, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid.to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask, other=0.0).to(tl.float32)
    y = tl.load(y_ptr + offs, mask=mask, other=0).to(tl.float32)
    if HAS_PW:
        pw = tl.load(pw_ptr + (offs // pw_inner) % pw_count, mask=mask, other=1.0)
    else:
        pw = 1.0
    # the formula of csrc/sigmoid_bce/bce_math.h
    e = tl.exp(-tl.abs(x))
    u = 1.0 + e
    # log1p(e), accurate for tiny e (Goldberg); the inner where keeps 0/0 out of unused lanes
    log1p_e = tl.where(u == 1.0, e, tl.log(u) * (e / tl.where(u == 1.0, 1.0, u - 1.0)))
    softplus_neg = log1p_e + tl.maximum(-x, 0.0)
    lw = 1.0 + (pw - 1.0) * y
    not_y = 1.0 - y
    loss = not_y * x + lw * softplus_neg
    r = 1.0 / u
    sig_pos = tl.where(x >= 0.0, 1.0, e) * r
    sig_neg = tl.where(x >= 0.0, e, 1.0) * r
    grad = (not_y * sig_pos - pw * y * sig_neg) * scale
    tl.store(grad_ptr + offs, grad.to(grad_ptr.dtype.element_ty), mask=mask)
    if STORE_LOSS:
        tl.store(loss_ptr + offs, loss, mask=mask)
    tl.store(partial_ptr + pid, tl.sum(tl.where(mask, loss, 0.0), axis=0))


@triton.jit
def _scale_unless_one_kernel(g_ptr, go_ptr, n, BLOCK: tl.constexpr):
    go = tl.load(go_ptr).to(tl.float32)
    offs = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    limit = tl.where(go != 1.0, n, 0)  # grad_output == 1: every lane masked, no memory traffic
    mask = offs < limit
    g = tl.load(g_ptr + offs, mask=mask, other=0.0)
    tl.store(g_ptr + offs, (g.to(tl.float32) * go).to(g_ptr.dtype.element_ty), mask=mask)


def bce_forward(x, y, weights, count, inner, scale, grad, per_element):
    """Fills grad (and per_element when given); returns the float64 sum of the losses (a tensor)."""
    n = x.numel()
    grid = (triton.cdiv(n, BLOCK),)
    partials = torch.empty(grid[0], dtype=torch.float32, device=x.device)
    with on_device(x):
        _bce_fwd_kernel[grid](x, y, weights if weights is not None else partials, grad,
                              per_element if per_element is not None else partials, partials, n, count, inner,
                              float(scale), HAS_PW=weights is not None, STORE_LOSS=per_element is not None,
                              BLOCK=BLOCK, num_warps=8)
    return partials.sum(dtype=torch.float64)


def scale_unless_one_(grad, grad_output):
    n = grad.numel()
    if n:
        with on_device(grad):
            _scale_unless_one_kernel[(triton.cdiv(n, BLOCK),)](grad, grad_output, n, BLOCK=BLOCK, num_warps=8)

