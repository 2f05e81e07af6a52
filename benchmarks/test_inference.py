"""The networks' forward pass for inference (reconstruct, evaluate) on the CPU: what
`vrnfast.Reconstructor.predict` runs (batch norms folded, weights in the precision they run in,
convolutions fused with their ReLUs and residual sums on oneDNN's reordered weights; the volume
upsampled in float32 and passed through its sigmoid) against plain PyTorch: float32 in the
default NCHW layout (the reference), float32 channels_last, and bf16 autocast channels_last (what
the Reconstructor ran before). One 3 x S x S image to the probability volume; the authors' VRN
(the paper preset) and the smaller presets.

The floor: the network's FLOPs (torch's flop counter) at the machine's measured matmul rate in
the same precision (a 2048^3 matmul, the best of 10), in extra_info.
"""
from __future__ import annotations

import time
from functools import lru_cache

import pytest
import torch

from vrnfast.runtime import cpu_has_native_bf16
from vrnfast.models import PRESETS, build_model, normalize_images
from vrnfast.reconstruction.reconstructor import Reconstructor

from conftest import SMALL

SETTINGS = {"float32 NCHW": (torch.contiguous_format, False), "float32 channels_last": (torch.channels_last, False),
            "bf16 autocast channels_last": (torch.channels_last, True),
            "vrnfast float32": None, "vrnfast bf16": None}


@lru_cache(maxsize=None)
def matmul_rate(dtype) -> float:
    """FLOP/s of a 2048^3 matmul here, the best of 10."""
    a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
    best = float("inf")
    for _ in range(12):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * 2048 ** 3 / best


@lru_cache(maxsize=None)
def flops(preset) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    size = PRESETS[preset].image_size
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        build_model("vrn", preset).eval()(torch.zeros(1, 3, size, size))
    return counter.get_total_flops()


@pytest.mark.parametrize("preset", ["tiny", "small"] if SMALL else ["tiny", "small", "paper"])
@pytest.mark.parametrize("setting", list(SETTINGS))
def test_forward(benchmark, preset, setting):
    bf16 = "bf16" in setting
    torch.manual_seed(0)
    net = build_model("vrn", preset).eval()
    size = PRESETS[preset].image_size
    x8 = torch.randint(0, 256, (1, 3, size, size), dtype=torch.uint8)
    if setting.startswith("vrnfast"):
        rec = Reconstructor({"model": net.state_dict(), "model_name": "vrn", "preset": preset}, device="cpu",
                            precision="bf16" if bf16 else "float32")

        def forward():
            return rec.predict(x8)["volume"]
    else:
        layout, autocast = SETTINGS[setting]
        net = net.to(memory_format=layout)
        x = normalize_images(x8).contiguous(memory_format=layout)

        @torch.no_grad()
        def forward():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                return net(x)["volume"][-1].float().sigmoid()

    dtype = torch.bfloat16 if bf16 else torch.float32
    floor_ms = flops(preset) / matmul_rate(dtype) * 1e3
    benchmark.group = f"inference vrn {preset} cpu"
    benchmark.extra_info.update(impl=setting, baseline=setting == "float32 NCHW", shape=[1, 3, size, size],
                                threads=torch.get_num_threads(), target_dtype="bf16" if bf16 else "float32",
                                native_bf16=cpu_has_native_bf16(), bytes_moved=0, gflops=flops(preset) / 1e9,
                                floor_ms=floor_ms, matmul_tflops=matmul_rate(dtype) / 1e12,
                                note=f"one image to its probability volume ({PRESETS[preset].design} design); "
                                     f"floor: FLOPs at the measured {dtype} matmul rate")
    slow = preset == "paper" or (bf16 and not cpu_has_native_bf16())
    out = benchmark.pedantic(forward, rounds=3 if SMALL or (slow and "float32" in setting) else 10,
                             warmup_rounds=1)
    assert out.shape == (1, PRESETS[preset].depth, size, size) and torch.isfinite(out).all()
