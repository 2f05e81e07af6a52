"""Fused sigmoid binary cross entropy: loss and gradient in one pass over logits and target.

Equals F.binary_cross_entropy_with_logits(logits.float(), target.float(), pos_weight=pos_weight,
reduction=reduction) in value and in its gradient with respect to the logits. The forward pass
stores the gradient (already divided by N for a mean); the backward pass only scales it by
grad_output, and not even that when grad_output is 1.

Backends: "cpp" (vrnfast._C, CPU tensors), "triton" (vrnfast.kernels.sigmoid_bce: CUDA tensors, or
CPU tensors under TRITON_INTERPRET=1), "reference" (PyTorch's own function).
"""
from __future__ import annotations

import math
import numbers

import torch
import torch.nn.functional as F

from .. import _backend as B
from ..kernels.dtypes import BCE_LOGIT_DTYPES, BCE_TARGET_DTYPES

_SUPPORTED = {"reference", "cpp", "triton"}
_REDUCTIONS = ("mean", "sum", "none")


def sigmoid_bce(logits, target, pos_weight=None, reduction="mean", backend="auto", inplace=False):
    """Sigmoid binary cross entropy of `logits` against `target`, differentiable in `logits`.

    logits: float32 / float16 / bfloat16 tensor, any shape and strides. target: same shape, bool,
    uint8 or float (soft targets allowed). pos_weight: None, a number, or a tensor broadcastable to
    the logits' shape (weight of the positive class). reduction: "mean", "sum" or "none". The loss is
    float32; the gradient has the logits' dtype and is accumulated in float32.

    inplace=True writes the gradient over the logits' storage (zero extra memory) for callers that
    no longer need the logits after this call; eager mode only, contiguous logits only.
    """
    kind = B.array_kind(logits, "logits")
    if kind not in ("torch_cpu", "torch_cuda"):
        raise TypeError(f"logits must be a torch tensor, got {type(logits).__name__}")
    if logits.dtype not in BCE_LOGIT_DTYPES:
        raise TypeError(f"logits must be float32, float16 or bfloat16, got {logits.dtype}")
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"target must be a torch tensor, got {type(target).__name__}")
    if target.shape != logits.shape:
        raise ValueError(f"target has shape {tuple(target.shape)}, logits {tuple(logits.shape)}: they must match")
    if target.device != logits.device:
        raise ValueError(f"target is on {target.device}, logits on {logits.device}: they must be on one device")
    if target.dtype.is_complex:
        raise TypeError(f"target must be bool, uint8 or a real float dtype, got {target.dtype}")
    if target.requires_grad:
        raise ValueError("target requires grad: sigmoid_bce is differentiable in logits only")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    pw = _pos_weight(pos_weight, logits)
    backend = B.resolve_backend("sigmoid_bce", kind, backend, _SUPPORTED)
    if backend == "reference":
        return F.binary_cross_entropy_with_logits(logits.float(), target.float(), pos_weight=pw,
                                                  reduction=reduction)
    if inplace:
        if torch.compiler.is_compiling():
            raise ValueError("inplace=True is for eager mode; under torch.compile use inplace=False")
        if not logits.is_contiguous():
            raise ValueError("inplace=True needs contiguous logits (the gradient takes their storage)")
        if logits.dtype != torch.float32:
            raise ValueError(f"inplace=True needs float32 logits, got {logits.dtype}: a 16-bit gradient stored "
                             "before the loss scale is applied would lose its small values")
        base = logits._base if logits._base is not None else logits
        if base.is_leaf and base.requires_grad:
            raise ValueError("inplace=True would overwrite a leaf tensor that requires grad (a parameter?) "
                             "with its own gradient; pass inplace=False")
        return _InplaceBCE.apply(logits, _target(target), pw, reduction, backend)
    return _sigmoid_bce_op(logits, _target(target), pw, reduction, backend)


def _target(target):
    if target.dtype == torch.bool:
        return target.view(torch.uint8)
    if target.dtype not in BCE_TARGET_DTYPES:
        return target.float()  # other integer dtypes: as PyTorch's reference, target.float()
    return target


def _pos_weight(pos_weight, logits):
    """None, or a float32 tensor on the logits' device broadcastable to their shape."""
    if pos_weight is None:
        return None
    if isinstance(pos_weight, torch.Tensor):
        if pos_weight.device != logits.device:
            raise ValueError(f"pos_weight is on {pos_weight.device}, logits on {logits.device}")
        if pos_weight.requires_grad:
            raise ValueError("pos_weight requires grad: sigmoid_bce is differentiable in logits only")
        if pos_weight.dtype.is_complex or not (pos_weight.is_floating_point() or pos_weight.dtype in
                                               (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)):
            raise TypeError(f"pos_weight must be a real tensor, got {pos_weight.dtype}")
        try:
            shape = torch.broadcast_shapes(pos_weight.shape, logits.shape)
        except RuntimeError:
            shape = None
        if shape != logits.shape:
            raise ValueError(f"pos_weight of shape {tuple(pos_weight.shape)} does not broadcast to the logits' "
                             f"shape {tuple(logits.shape)}")
        return pos_weight.float()
    if isinstance(pos_weight, bool) or not isinstance(pos_weight, numbers.Real):
        raise TypeError(f"pos_weight must be None, a number or a tensor, got {type(pos_weight).__name__}")
    value = B.check_finite(pos_weight, "pos_weight")
    # a fill on the device, not torch.tensor(value, device=...): that copies from the host and waits
    return torch.full((), value, dtype=torch.float32, device=logits.device)


def pos_weight_layout(pw, shape):
    """(weights, count, inner) with element i of the flattened logits using
    weights[(i // inner) % count]; a pattern this cannot express is expanded to the full shape."""
    n = math.prod(shape)
    if pw.numel() == 1:  # one run of equal weight over everything
        return pw.reshape(1).contiguous(), 1, max(n, 1)
    dims = [1] * (len(shape) - pw.dim()) + list(pw.shape)
    nontrivial = [d for d, s in enumerate(dims) if s != 1]
    first, last = nontrivial[0], nontrivial[-1] + 1
    if all(dims[d] == shape[d] for d in range(first, last)):
        return pw.reshape(-1).contiguous(), math.prod(shape[first:last]), math.prod(shape[last:])
    return pw.expand(shape).contiguous().reshape(-1), n, 1


# ---- the fused op, registered for autograd and torch.compile -----------------------------------

_REDUCTION_CODE = {"mean": 0, "sum": 1, "none": 2}


@torch.library.custom_op("vrnfast::sigmoid_bce_fused", mutates_args=())
def _fused(logits: torch.Tensor, target: torch.Tensor, pos_weight: torch.Tensor | None, reduction: int,
           backend: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss, d loss / d logits for grad_output = 1)."""
    x = logits.contiguous()
    # 16-bit logits get a float32 stored gradient: rounded once, after grad_output (a loss scale)
    # is applied; stored in 16 bits it would lose its small values to subnormals first
    grad = torch.empty(x.shape, dtype=torch.float32, device=x.device)
    loss = _forward_into(x, target.contiguous(), pos_weight, reduction, backend, grad)
    return loss, grad


@_fused.register_fake
def _(logits, target, pos_weight, reduction, backend):
    loss = logits.new_empty(logits.shape if reduction == 2 else (), dtype=torch.float32)
    return loss, logits.new_empty(logits.shape, dtype=torch.float32)


@torch.library.custom_op("vrnfast::scale_grad_", mutates_args=("grad",))
def _scale_grad_(grad: torch.Tensor, grad_output: torch.Tensor, backend: str) -> None:
    """grad *= grad_output (a scalar, or grad's shape), computed in float32 and rounded once;
    nothing at all when grad_output is 1."""
    if grad_output.dim() == 0 and grad.is_cuda and backend == "triton":
        from ..kernels.sigmoid_bce import scale_unless_one_

        scale_unless_one_(grad, grad_output)  # reads grad_output on the device: no sync
    elif grad_output.dim() != 0 or grad_output.item() != 1.0:
        grad.mul_(grad_output)  # no cast: a loss scale of 65536 must not become float16 inf


@_scale_grad_.register_fake
def _(grad, grad_output, backend):
    return None


def _setup_context(ctx, inputs, output):
    ctx.backend = inputs[4]
    ctx.logits_dtype = inputs[0].dtype
    # the stored gradient is not differentiable; and autograd must not zero-fill a gradient for
    # it before calling _backward (a full extra pass over memory)
    ctx.mark_non_differentiable(output[1])
    ctx.set_materialize_grads(False)
    ctx.save_for_backward(output[1])


def _saved_gradient(ctx):
    if torch.is_grad_enabled() and not torch.compiler.is_compiling():
        raise RuntimeError("vrnfast.sigmoid_bce has no double backward (create_graph=True): its stored "
                           "gradient is constant. Use backend='reference' for higher-order gradients.")
    try:
        (grad,) = ctx.saved_tensors
    except RuntimeError as e:
        raise RuntimeError("vrnfast.sigmoid_bce: a second backward through the same loss (retain_graph=True) "
                           "is not supported, the first one consumed the stored gradient; recompute the loss") from e
    return grad


def _backward(ctx, grad_loss, _grad_grad):
    if grad_loss is None:
        return None, None, None, None, None
    grad = _saved_gradient(ctx)
    if ctx.logits_dtype != torch.float32:  # float32 stored gradient: scale and round once
        return (grad * grad_loss).to(ctx.logits_dtype), None, None, None, None
    if torch.compiler.is_compiling():
        return grad * grad_loss, None, None, None, None  # out of place: inductor fuses it, no self-copy
    torch.ops.vrnfast.scale_grad_(grad, grad_loss, ctx.backend)
    return grad, None, None, None, None


_fused.register_autograd(_backward, setup_context=_setup_context)


def _sigmoid_bce_op(logits, target, pw, reduction, backend):
    return torch.ops.vrnfast.sigmoid_bce_fused(logits, target, pw, _REDUCTION_CODE[reduction], backend)[0]


class _InplaceBCE(torch.autograd.Function):
    """The gradient overwrites the logits' storage: no extra memory, eager mode only."""

    @staticmethod
    def forward(ctx, logits, target, pw, reduction, backend):
        grad = logits.detach()  # same storage
        code = _REDUCTION_CODE[reduction]
        loss = _forward_into(grad, target.contiguous(), pw, code, backend, grad)
        # the kernel wrote through a raw pointer: let autograd see that the logits changed, so that
        # any other use of their old values fails loudly instead of reading gradients
        torch.autograd.graph.increment_version(logits)
        ctx.backend = backend
        ctx.save_for_backward(grad)
        return loss

    @staticmethod
    def backward(ctx, grad_loss):
        grad = _saved_gradient(ctx)
        _scale_grad_(grad, grad_loss, ctx.backend)
        return grad, None, None, None, None


def _forward_into(x, y, pw, reduction, backend, grad):
    """Fills grad (float32, or x itself in place); returns the float32 loss."""
    n = x.numel()
    per_element = torch.empty(x.shape, dtype=torch.float32, device=x.device) if reduction == 2 else None
    weights, count, inner = pos_weight_layout(pw, x.shape) if pw is not None else (None, 1, 1)
    scale = 1.0 / n if reduction == 0 and n else 1.0
    if n == 0:
        total = torch.zeros((), dtype=torch.float64, device=x.device)
    elif backend == "cpp":
        ext = B.cpu_ext()
        total = torch.tensor(ext.bce_forward(
            x.data_ptr(), ext.dtypes[B.dtype_name(x)], y.data_ptr(), ext.dtypes[B.dtype_name(y)], n,
            weights.data_ptr() if weights is not None else 0, count, inner, scale, grad.data_ptr(),
            ext.dtypes[B.dtype_name(grad)], per_element.data_ptr() if per_element is not None else 0,
            B.threads_arg()), dtype=torch.float64)
    else:
        from ..kernels.sigmoid_bce import bce_forward

        total = bce_forward(x, y, weights, count, inner, scale, grad, per_element)
    if reduction == 2:
        return per_element
    if reduction == 0:
        return (total / n).float() if n else torch.full((), math.nan, device=x.device)
    return total.float()
