"""The sigmoid BCE's reference (PyTorch's function, in any precision), vrnfast's loss and gradient
the same way, test inputs, and a bitwise comparison of float32 tensors."""
import torch
import torch.nn.functional as F

import vrnfast


def reference(x, y, pos_weight=None, reduction="mean", grad_output=None, dtype=torch.float32):
    xr = x.detach().to(dtype).requires_grad_()
    loss = F.binary_cross_entropy_with_logits(xr, y.to(dtype), pos_weight=pos_weight, reduction=reduction)
    loss.backward(grad_output if grad_output is not None else torch.ones_like(loss))
    return loss.detach(), xr.grad


def ours(x, y, backend, grad_output=None, **kw):
    x = x.detach().clone().requires_grad_()
    loss = vrnfast.sigmoid_bce(x, y, backend=backend, **kw)
    loss.backward(grad_output if grad_output is not None else torch.ones_like(loss))
    return loss.detach(), x.grad


def make(shape, dtype=torch.float32, target="uint8", device="cpu", seed=0, spread=4.0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(shape, generator=g) * spread).to(dtype)
    u = torch.rand(shape, generator=g)
    y = {"bool": u > 0.5, "uint8": (u > 0.5).to(torch.uint8), "float32": u, "float16": u.half(),
         "bfloat16": u.bfloat16(), "float64": u.double(), "int64": (u > 0.5).long()}[target]
    return x.to(device), y.to(device)


def same_bits(a, b):
    """Bitwise equal float32 tensors, any NaN matching any NaN (payloads may differ)."""
    nan = a.isnan()
    return torch.equal(nan, b.isnan()) and torch.equal(a[~nan].view(torch.int32), b[~nan].view(torch.int32))
