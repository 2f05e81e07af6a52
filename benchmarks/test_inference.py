"""The networks' forward pass for inference (reconstruct, evaluate) on the CPU, in each setting:
float32 in PyTorch's default NCHW layout (the reference), float32 channels_last, and bf16 autocast
channels_last. One 3 x S x S image; the authors' VRN (the paper preset) and the smaller presets.

`vrnfast.Reconstructor` picks bf16 on CPUs with native bf16 (AMX, AVX-512 BF16) and float32
elsewhere, channels_last in both; this suite shows what each costs on the machine it runs on.
"""
from __future__ import annotations

import pytest
import torch

from vrnfast._backend import cpu_has_native_bf16
from vrnfast.models import PRESETS, build_model, normalize_images

from conftest import SMALL

SETTINGS = {"float32 NCHW": (torch.contiguous_format, False), "float32 channels_last": (torch.channels_last, False),
            "bf16 channels_last": (torch.channels_last, True)}


@pytest.mark.parametrize("preset", ["tiny", "small"] if SMALL else ["tiny", "small", "paper"])
@pytest.mark.parametrize("setting", list(SETTINGS))
def test_forward(benchmark, preset, setting):
    layout, bf16 = SETTINGS[setting]
    torch.manual_seed(0)
    net = build_model("vrn", preset).eval().to(memory_format=layout)
    size = PRESETS[preset].image_size
    x = normalize_images(torch.randint(0, 256, (1, 3, size, size), dtype=torch.uint8)).contiguous(memory_format=layout)

    @torch.no_grad()
    def forward():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return net(x)["volume"][-1].float().sigmoid()

    benchmark.group = f"inference vrn {preset} cpu"
    benchmark.extra_info.update(impl=setting, baseline=setting == "float32 NCHW", shape=[1, 3, size, size],
                                threads=torch.get_num_threads(), target_dtype="bf16" if bf16 else "float32",
                                native_bf16=cpu_has_native_bf16(), bytes_moved=0,
                                note=f"one image, the network's forward pass ({PRESETS[preset].design} design)")
    slow = preset == "paper" or (bf16 and not cpu_has_native_bf16())
    out = benchmark.pedantic(forward, rounds=3 if SMALL or slow else 10, warmup_rounds=1)
    assert torch.isfinite(out).all()
