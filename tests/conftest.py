import numpy as np
import pytest


def cuda_available():
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


requires_cuda = pytest.mark.skipif(not cuda_available(), reason="needs a CUDA device")


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
