"""Sigmoid BCE forward + backward: vrnfast (uint8 targets) against PyTorch eager and torch.compile
(float targets, as a training loop without vrnfast would hold them), per batch size.

    pytest benchmarks/test_sigmoid_bce.py --benchmark-only

extra_info: the bytes that must move (logits in, target in, gradient out), the GB/s that implies,
and the peak memory the step adds (CPU: resident-set high-water mark; CUDA: allocator peak).
"""
from __future__ import annotations


import pytest
import torch
import torch.nn.functional as F

import vrnfast

from conftest import SMALL, peak_extra_bytes

SHAPES = {"B2": (2, 20, 19, 19), "B8": (8, 20, 19, 19)} if SMALL else {"B2": (2, 200, 192, 192),
                                                                        "B8": (8, 200, 192, 192)}
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def eager(x, y):
    return F.binary_cross_entropy_with_logits(x, y)


_compiled = torch.compile(eager, dynamic=False)


def fused(x, y):
    return vrnfast.sigmoid_bce(x, y)


def fused_inplace(x, y):
    # the gradient takes the logits' storage: as a training step does with the network's output
    return vrnfast.sigmoid_bce(x, y, inplace=True)


class _NetworkOutput(torch.autograd.Function):
    """A non-leaf over the same memory, standing in for a network's output at no cost."""

    @staticmethod
    def forward(ctx, x):
        return x.detach()

    @staticmethod
    def backward(ctx, grad):
        return grad


IMPLS = {"torch eager": (eager, torch.float32), "torch.compile": (_compiled, torch.float32),
         "vrnfast": (fused, torch.uint8), "vrnfast inplace": (fused_inplace, torch.uint8)}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape_name", list(SHAPES))
@pytest.mark.parametrize("impl", list(IMPLS), ids=lambda s: s.replace(" ", "_"))
def test_sigmoid_bce_fwd_bwd(benchmark, impl, shape_name, device):
    fn, target_dtype = IMPLS[impl]
    shape = SHAPES[shape_name]
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(shape, generator=g) * 3).to(device)
    y = (torch.rand(shape, generator=g) > 0.5).to(device=device, dtype=target_dtype)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def step():
        # a fresh leaf over the same storage each time, standing in for the network's output
        logits = _NetworkOutput.apply(x.detach().requires_grad_())
        loss = fn(logits, y)
        loss.backward()
        sync()
        return loss

    ref = F.binary_cross_entropy_with_logits(x.detach(), y.float())
    torch.testing.assert_close(step().detach(), ref, rtol=1e-5, atol=1e-6)  # warm-up, compile
    if impl == "vrnfast inplace":  # x now holds a gradient; the values do not change the timing
        assert torch.isfinite(x).all()
    n = x.numel()
    moved = n * (x.element_size() + y.element_size() + x.element_size())
    benchmark.group = f"sigmoid_bce {shape_name} {device}"
    extra = peak_extra_bytes(step, device)
    benchmark.extra_info.update(impl=impl, shape=list(shape), device=device, target_dtype=str(target_dtype)[6:],
                                note="forward + backward; GB/s counts logits in, target in, gradient out",
                                bytes_moved=moved, peak_extra_MB=None if extra is None else round(extra / 2**20, 1),
                                threads=vrnfast.get_num_threads() if impl.startswith("vrnfast") else torch.get_num_threads())
    benchmark.pedantic(step, rounds=3 if SMALL else 10, warmup_rounds=1)
    if device == "cuda":
        benchmark.extra_info["device_name"] = torch.cuda.get_device_name()
