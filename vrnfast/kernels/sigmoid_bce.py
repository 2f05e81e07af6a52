"""Triton kernels of vrnfast.sigmoid_bce: the fused forward (loss + gradient, one exp per element,
one read of logits and target, one write of the gradient) and the backward's scale.

The per-element formula is the C++ one (csrc/sigmoid_bce/bce_math.h), its own exp and log1p built
from +, -, *, IEEE division and bit operations, so a GPU computes what the CPU computes: not
tl.exp (ex2.approx after a rounded multiply by log2 e) nor the approximate division `/` lowers to.

The reduction is deterministic: each program writes the tree-sum of its block to its own slot, and
the slots are summed in a fixed order afterwards; there are no float atomics.
"""
from __future__ import annotations

import torch
import triton
import triton.language as tl

from ._device import INDEX, POINTER, LaunchConfig, on_device

BLOCK = 4096
FWD_OPTIONS = dict(num_warps=8, enable_fp_fusion=False)  # no FMA: the C++ formula's roundings
SCALE_OPTIONS = dict(num_warps=8)


@triton.jit
def _exp_neg(a):
    """exp(-a) for a >= 0 or NaN: bce::exp_neg of csrc/sigmoid_bce/bce_math.h, operation for
    operation (Cody-Waite reduction, the same polynomial, exact scaling by 2^n). The constants are
    that header's float constants written out exactly, so no decimal is rounded twice."""
    x = tl.where(-87.0 > 0.0 - a, -87.0, 0.0 - a)  # O::max(-87, -a): NaN in -a is kept
    n = (x * 1.4426950216293335 + 12582912.0) - 12582912.0  # round to nearest, as O::round
    r = (x - n * 0.693359375) - n * -0.00021219444170128554
    q = 0.0013814591802656651 * r + 0.008368711918592453
    q = q * r + 0.041668388992547989
    q = q * r + 0.1666652113199234
    q = q * r + 0.49999994039535522
    bits = ((tl.where(n == n, n, 0.0).to(tl.int32) + 127) << 23).to(tl.float32, bitcast=True)
    return ((r * r) * q + r + 1.0) * tl.where(n == n, bits, 0.0)


@triton.jit
def _log1p_unit(e):
    """log1p(e) for e in [0, 1] or NaN: bce::log1p_unit of csrc/sigmoid_bce/bce_math.h."""
    big = e > 0.41421356797218323
    s = tl.div_rn(tl.where(big, e - 1.0, e), tl.where(big, e + 3.0, e + 2.0))
    s2 = s * s
    p = 0.1111111119389534 * s2 + 0.1428571492433548
    p = p * s2 + 0.20000000298023224
    p = p * s2 + 0.3333333432674408
    p = p * s2 + 1.0
    return tl.where(big, 0.69314718246459961, 0.0) + (s + s) * p


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
        pw = tl.full([BLOCK], 1.0, tl.float32)
    # bce::bce_elem of csrc/sigmoid_bce/bce_math.h, in its order of operations: with IEEE division
    # (div_rn) and no fused multiply-adds (enable_fp_fusion=False) every element's loss and gradient
    # are bitwise the C++ kernels'
    e = _exp_neg(tl.abs(x))
    softplus_neg = _log1p_unit(e) + tl.where(0.0 - x > 0.0, 0.0 - x, 0.0)
    lw = 1.0 + (pw - 1.0) * y
    not_y = 1.0 - y
    loss = not_y * x + lw * softplus_neg
    r = tl.div_rn(tl.full([BLOCK], 1.0, tl.float32), 1.0 + e)
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


def _fwd_constexprs(has_pw, store_loss):
    return dict(HAS_PW=has_pw, STORE_LOSS=store_loss, BLOCK=BLOCK)


def bce_forward(x, y, weights, count, inner, scale, grad, per_element):
    """Fills grad (and per_element when given); returns the float64 sum of the losses (a tensor)."""
    n = x.numel()
    grid = (triton.cdiv(n, BLOCK),)
    partials = torch.empty(grid[0], dtype=torch.float32, device=x.device)
    with on_device(x):
        _bce_fwd_kernel[grid](x, y, weights if weights is not None else partials, grad,
                              per_element if per_element is not None else partials, partials, n, count, inner,
                              float(scale), **_fwd_constexprs(weights is not None, per_element is not None),
                              **FWD_OPTIONS)
    return partials.sum(dtype=torch.float64)


def scale_unless_one_(grad, grad_output):
    n = grad.numel()
    if n:
        with on_device(grad):
            _scale_unless_one_kernel[(triton.cdiv(n, BLOCK),)](grad, grad_output, n, BLOCK=BLOCK, **SCALE_OPTIONS)



def launch_configs():
    """Every configuration the launchers above compile: each logit and target dtype that
    vrnfast.sigmoid_bce hands them, each constexpr branch, 32-bit sizes; and 64-bit sizes
    (inputs past 2^31 elements) for each branch and logit dtype with uint8 targets."""
    from .dtypes import BCE_LOGIT_DTYPES, BCE_TARGET_DTYPES

    def fwd(x, y, has_pw, store_loss, index):
        # the gradient, the losses and the partial sums are float32; absent weights and losses
        # point at the partials buffer
        sig = {"x_ptr": POINTER[x], "y_ptr": POINTER[y], "pw_ptr": "*fp32", "grad_ptr": "*fp32",
               "loss_ptr": "*fp32", "partial_ptr": "*fp32", "n": index, "pw_count": index, "pw_inner": index,
               "scale": "fp32"}
        label = f"x {POINTER[x][1:]}, y {POINTER[y][1:]}{', pos_weight' * has_pw}{', none' * store_loss}, n {index}"
        return LaunchConfig(_bce_fwd_kernel, sig, _fwd_constexprs(has_pw, store_loss), FWD_OPTIONS, label)

    for has_pw in (False, True):
        for store_loss in (False, True):
            for x in BCE_LOGIT_DTYPES:
                for y in BCE_TARGET_DTYPES:
                    yield fwd(x, y, has_pw, store_loss, "i32")
                yield fwd(x, torch.uint8, has_pw, store_loss, "i64")
    for index in INDEX:  # the stored gradient is float32 for every logit dtype
        yield LaunchConfig(_scale_unless_one_kernel, {"g_ptr": "*fp32", "go_ptr": "*fp32", "n": index},
                           dict(BLOCK=BLOCK), SCALE_OPTIONS, f"grad fp32, n {index}")
