"""Reconstruction latency per image, split into its stages: the network (last stack, sigmoid),
marching cubes of the probability volume at 0.5 (on the network's device, vertices back on the
host), colouring (the map to image coordinates and the bilinear colour lookup), and writing the
mesh (binary PLY). CPU at the tiny preset; CUDA at the paper preset when a GPU is present.

The network's weights are untrained (timing does not depend on them); the volume meshed is a
synthetic face's target, so the surface has the size of a real face's.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vrnfast.data import synthetic_sample
from vrnfast.models import build_model
from vrnfast.data.crop import Crop
from vrnfast.reconstruct import Reconstructor

from conftest import SMALL

CASES = [("cpu", "tiny")] + ([("cuda", "paper")] if torch.cuda.is_available() else [])
STAGES = ["network", "marching_cubes", "colouring", "write"]


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[1]}-{c[0]}")
def setup(request):
    device, preset = request.param
    torch.manual_seed(0)
    ck = {"model": build_model("vrn", preset).state_dict(), "model_name": "vrn", "preset": preset}
    rec = Reconstructor(ck, device=device)
    s = synthetic_sample(0, 0, rec.size, rec.depth)
    image = s["image"].transpose(1, 2, 0).copy()
    volume = torch.from_numpy(s["volume"]).float().to(rec.device)  # a face-sized surface
    return device, preset, rec, image, volume


@pytest.mark.parametrize("stage", STAGES)
def test_reconstruct_stage(benchmark, setup, stage, tmp_path):
    device, preset, rec, image, volume = setup
    crop = Crop(0.0, 0.0, float(rec.size), rec.size)
    batch = torch.from_numpy(image).permute(2, 0, 1)[None].contiguous()
    surface = rec.surface(volume)
    mesh = rec.colour(*surface, image, crop)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def network():
        out = rec.predict(batch)["volume"]
        sync()
        return out

    run = {"network": network,
           "marching_cubes": lambda: rec.surface(volume),
           "colouring": lambda: rec.colour(*surface, image, crop),
           "write": lambda: mesh.save(tmp_path / "face.ply")}[stage]
    benchmark.group = f"reconstruct {preset} {device}"
    benchmark.extra_info.update(impl=stage, shape=[1, 3, rec.size, rec.size], device=device, target_dtype="uint8",
                                bytes_moved=0, vertices=len(mesh.verts), triangles=len(mesh.faces),
                                note="one stage of vrnfast reconstruct, per image")
    benchmark.pedantic(run, rounds=3 if SMALL else 20, warmup_rounds=1)
    assert len(mesh.verts) > 1000 and np.isfinite(mesh.verts).all()
