import os

import numpy as np
import pytest


def _has_cuda_device():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


# Without a GPU the Triton kernels run on CPU tensors in Triton's interpreter; it must be chosen
# before anything imports triton.
if not _has_cuda_device():
    os.environ.setdefault("TRITON_INTERPRET", "1")


requires_cuda = pytest.mark.skipif(not _has_cuda_device(), reason="needs a CUDA device")


def pytest_collection_modifyitems(config, items):
    """Tests marked `triton` run the Triton kernels (interpreted on the CPU): without the optional
    triton package they are skipped, saying how to get it."""
    from vrnfast._backend import TRITON_HINT, has_triton

    if has_triton():
        return
    skip = pytest.mark.skip(reason=f"triton is not installed: {TRITON_HINT}")
    for item in items:
        if item.get_closest_marker("triton"):
            item.add_marker(skip)
DEVICE = "cuda" if _has_cuda_device() else "cpu"  # where the Triton backend runs


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory):
    """A tiny VRN trained for a few seconds on synthetic faces: enough to predict a face-shaped
    volume (past the mean-shape baseline's IoU) for reconstruction and evaluation tests."""
    from vrnfast.train import TrainConfig, Trainer

    out = tmp_path_factory.mktemp("tiny_run")
    cfg = TrainConfig(out=str(out), preset="tiny", epochs=4, epoch_size=128, val_size=16, workers=0)
    history = Trainer(cfg, progress=False).fit()
    assert history[-1]["val_iou"] > history[-1]["baseline_iou"]
    return out / "best.pt"
