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
DEVICE = "cuda" if _has_cuda_device() else "cpu"  # where the Triton backend runs


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
