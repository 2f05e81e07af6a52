"""What the test files share. Submodules hold the independent references: torch7 (Torch7 files
written and run in numpy), mesh_checks, browser (headless Chromium), bce (PyTorch's loss in any
precision) and voxels (brute-force voxelization).

Real data the tests read where it is at hand. One 300W-LP sample (IBUG_image_008_1_0.jpg and its
.mat, as the release distributes them) is not redistributable under vrnfast's licence (300W-LP is
for non-commercial research), so it is not in the repository: VRNFAST_300WLP_SAMPLE names a
folder holding the pair; without it, a folder beside the checkout's where the project keeps one
is tried, and the tests that need it skip, saying so."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]  # the repository

WLP_NAME = "IBUG_image_008_1_0"
WLP_SAMPLE = Path(os.environ.get("VRNFAST_300WLP_SAMPLE")
                  or ROOT.parent / "shared" / "data" / "300w_lp_sample" / "IBUG")
HAVE_WLP_SAMPLE = (WLP_SAMPLE / f"{WLP_NAME}.jpg").is_file() and (WLP_SAMPLE / f"{WLP_NAME}.mat").is_file()
WLP_SKIP = (f"needs one real 300W-LP sample ({WLP_NAME}.jpg and .mat, not redistributable with vrnfast): "
            "set VRNFAST_300WLP_SAMPLE to the folder holding them")
needs_wlp_sample = pytest.mark.skipif(not HAVE_WLP_SAMPLE, reason=WLP_SKIP)


def has_cuda_device() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


DEVICE = "cuda" if has_cuda_device() else "cpu"  # where the Triton backend runs
# Tests on CUDA tensors are marked `cuda` (`pytest -m cuda` lists them) and skipped without a CUDA
# device; those of vrnfast._cuda also when the extension cannot run here (conftest.py says why).
requires_cuda = pytest.mark.cuda
requires_cuda_ext = pytest.mark.cuda(ext=True)
# the ops' backends that run on the CPU machine: C++, and Triton (interpreted without a GPU)
BACKENDS = [pytest.param("cpp", id="cpp"), pytest.param("triton", id="triton", marks=pytest.mark.triton)]


def device_for(backend):
    return "cpu" if backend == "cpp" else DEVICE


def train_config(tmp_path, name="run", **kw):
    """A short training run's configuration in tmp_path/name, on the CPU (runs compared bit for
    bit; tests/ops/test_cuda.py has the CUDA ones); `kw` change any field."""
    from vrnfast.training.trainer import TrainConfig

    base = dict(out=str(tmp_path / name), epochs=2, epoch_size=16, batch_size=8, val_size=8, workers=0, device="cpu")
    base.update(kw)
    return TrainConfig(**base)
