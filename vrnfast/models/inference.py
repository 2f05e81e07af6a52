"""A trained network made ready for inference, as inference engines do it before they run one:
batch norms folded into the convolutions they follow, weights in the precision and memory layout
it will run in, and on the CPU each convolution and the ReLU after it one oneDNN call on weights
reordered once into oneDNN's own layout (the kernels torch.compile's inductor calls, without its
compile time)."""
from __future__ import annotations

import torch
from torch import nn


def fold_batch_norms(module: nn.Module) -> int:
    """Folds every batch norm that directly follows a convolution in an nn.Sequential into that
    convolution (its weights and bias absorb the running statistics; the batch norm becomes an
    Identity): one pass over the activations fewer per pair, the same function in eval mode.
    The pre-activation batch norms of the residual modules (after an addition) stay. Returns how
    many were folded. The module must be in eval mode."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    if module.training:
        raise ValueError("fold_batch_norms needs a module in eval mode (its running statistics are folded)")
    folded = 0
    for seq in [m for m in module.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            if isinstance(seq[i], nn.Conv2d) and isinstance(seq[i + 1], nn.BatchNorm2d):
                seq[i] = fuse_conv_bn_eval(seq[i], seq[i + 1])
                seq[i + 1] = nn.Identity()
                folded += 1
    return folded


class OneDNNConv(nn.Module):
    """A Conv2d, and the ReLU after it when `relu`, as one call of oneDNN's fused convolution
    (torch.ops.mkldnn._convolution_pointwise) on its weights reordered into oneDNN's blocked layout,
    once per input shape. The same numbers as the convolution then the ReLU (tested bitwise)."""

    def __init__(self, conv: nn.Conv2d, relu: bool):
        super().__init__()
        if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
            raise ValueError("OneDNNConv takes convolutions with explicit zero padding")
        self.weight = nn.Parameter(conv.weight.detach(), requires_grad=False)
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach(), requires_grad=False)
        self.args = (list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)
        self.attr = "relu" if relu else "none"
        self._packed = {}  # (input shape, dtype) -> the reordered weight

    def _packed_weight(self, x):
        key = (tuple(x.shape), x.dtype)
        w = self._packed.get(key)
        if w is None:
            w = self._packed[key] = torch.ops.mkldnn._reorder_convolution_weight(
                self.weight.to(x.dtype), *self.args, list(x.shape))
        return w

    def forward(self, x):
        return torch.ops.mkldnn._convolution_pointwise(x, self._packed_weight(x), self.bias, *self.args, self.attr,
                                                       [None], "")

    def plus(self, x, other):
        """conv(x) + other in one call (oneDNN's binary add post-op: the sum rounded once, in the output's
        precision); the ReLU, if fused, is not applied."""
        return torch.ops.mkldnn._convolution_pointwise.binary(x, other, self._packed_weight(x), self.bias, *self.args,
                                                              "add", 1.0, None, [], None)


class OneDNNResidual(nn.Module):
    """A pre-activation Residual whose last convolution adds the skip connection as it writes (one
    pass over the output fewer than the convolution then the addition)."""

    def __init__(self, residual):
        super().__init__()
        self.body = residual.body[:-1]
        self.last = residual.body[-1]
        self.skip = residual.skip

    def forward(self, x):
        return self.last.plus(self.body(x), self.skip(x))


def onednn_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


def fuse_onednn(module: nn.Module) -> int:
    """Every Conv2d of `module` (batch norms folded first) as a OneDNNConv, with the ReLU that
    follows it in its nn.Sequential (past Identities) fused in and replaced by an Identity.
    Returns how many convolutions were replaced."""
    fused = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if not isinstance(child, nn.Conv2d):
                continue
            relu = None
            if isinstance(parent, nn.Sequential):
                k = int(name) + 1
                while k < len(parent) and isinstance(parent[k], nn.Identity):
                    k += 1
                if k < len(parent) and isinstance(parent[k], nn.ReLU):
                    relu = k
            setattr(parent, name, OneDNNConv(child, relu is not None))
            if relu is not None:
                parent[relu] = nn.Identity()
            fused += 1
    return fused


def fuse_residual_sums(module: nn.Module) -> int:
    """Every Residual whose last convolution is a OneDNNConv (without a ReLU) as a OneDNNResidual;
    returns how many."""
    from .hourglass import Residual

    fused = 0
    for parent in list(module.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, Residual) and isinstance(child.body[-1], OneDNNConv) and child.body[-1].attr == "none":
                setattr(parent, name, OneDNNResidual(child))
                fused += 1
    return fused


def for_inference(net: nn.Module, dtype=torch.float32, device="cpu") -> nn.Module:
    """`net` (in eval mode, changed in place and returned) with its batch norms folded, its weights
    in `dtype` (float32, or bfloat16 where the CPU or GPU computes it natively: no casts per
    call, as autocast makes) and in channels_last, the layout oneDNN's and cuDNN's fast
    convolutions take; on the CPU, its convolutions and their ReLUs fused (fuse_onednn) where
    oneDNN is there."""
    net.eval()
    fold_batch_norms(net)
    net = net.to(device=device, dtype=dtype, memory_format=torch.channels_last)
    if torch.device(device).type == "cpu" and onednn_available():
        fuse_onednn(net)
        fuse_residual_sums(net)
    return net
