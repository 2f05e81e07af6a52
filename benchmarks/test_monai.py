"""The affine warp of 3-D pipelines: vrnfast.compat.monai (its warp kernels) against MONAI's `Affine`
(its default backend), given the same affine, on a 1 x 256^3 float32 image (trilinear) and its
uint8 label (nearest), and on a 1 x 512 x 512 x 300 int16 CT volume (both modes). Outputs are
checked equal before timing."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from vrnfast.compat.monai import RandAffined, apply_affine

from conftest import SMALL

monai_transforms = pytest.importorskip("monai.transforms", reason="MONAI is not installed (the test extra)")
SIZE = 48 if SMALL else 256
CT_SHAPE = (64, 64, 40) if SMALL else (512, 512, 300)


@pytest.fixture(scope="module")
def case():
    from vrnfast.data import random_smooth

    image = random_smooth((SIZE,) * 3, sigma=4.0, seed=0)[None].astype(np.float32)
    label = (image > 0).astype(np.uint8)
    aug = RandAffined(keys="image", prob=1.0, rotate_range=0.3, translate_range=8, scale_range=0.1, seed=0)
    aug({"image": image[:, :2, :2, :2]})  # samples the affine (its size does not matter)
    ct = torch.from_numpy((random_smooth(CT_SHAPE, sigma=4.0, seed=2) * 1000).astype(np.int16))[None]
    return {"trilinear image": (torch.from_numpy(image), "bilinear"), "nearest label": (torch.from_numpy(label), "nearest"),
            "trilinear CT int16": (ct, "bilinear"), "nearest CT int16": (ct, "nearest")}, aug.last_affine


@pytest.mark.parametrize("impl", ["vrnfast", "MONAI Affine"])
@pytest.mark.parametrize("what", ["trilinear image", "nearest label", "trilinear CT int16", "nearest CT int16"])
def test_affine_warp(benchmark, case, impl, what):
    inputs, affine = case
    x, mode = inputs[what]
    if impl == "vrnfast":
        run = lambda: apply_affine(x, affine, mode)  # noqa: E731
    else:
        monai_affine = monai_transforms.Affine(affine=affine, mode=mode, padding_mode="zeros", image_only=True)
        run = lambda: monai_affine(x)  # noqa: E731
    out = torch.as_tensor(run()).float()
    ref = torch.as_tensor(apply_affine(x, affine, mode)).float()
    if mode == "bilinear":
        torch.testing.assert_close(out, ref, atol=1e-4 * max(1.0, float(x.abs().max())), rtol=0)
    else:
        assert (out != ref).float().mean() < 1e-4
    benchmark.group = f"affine warp, {what}: 1x{'x'.join(map(str, x.shape[1:]))}"
    benchmark.extra_info.update(impl=impl, shape=list(x.shape), target_dtype=str(x.dtype).replace("torch.", ""),
                                threads=torch.get_num_threads(), bytes_moved=x.numel() * (x.element_size() + (4 if mode == "bilinear" else x.element_size())),
                                note="one sampled affine, MONAI's conventions")
    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
