"""Launch helpers shared by the Triton kernels, and the description of a launch configuration
that tools/kernel_resources.py compiles ahead of time for real GPUs."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch


def on_device(t):
    """Triton launches on the current CUDA device: make it t's (nothing to do for CPU tensors)."""
    return torch.cuda.device(t.device) if t.is_cuda else contextlib.nullcontext()


# Triton's names for the element types of the tensors the launchers pass
POINTER = {torch.float32: "*fp32", torch.float16: "*fp16", torch.bfloat16: "*bf16", torch.float64: "*fp64",
           torch.uint8: "*u8", torch.bool: "*i1", torch.int16: "*i16", torch.uint16: "*u16", torch.int32: "*i32"}
INDEX = ("i32", "i64")  # Triton passes an int as i32 below 2^31, as i64 from there on


@dataclass(frozen=True)
class LaunchConfig:
    """One way a launcher calls a kernel: the runtime arguments' types (constexprs left out), the
    constexpr values and the compile options, as `triton.compile` takes them."""
    kernel: object
    signature: dict
    constexprs: dict
    options: dict
    label: str = field(default="")

    @property
    def name(self) -> str:
        return getattr(self.kernel, "__name__", None) or self.kernel.fn.__name__
