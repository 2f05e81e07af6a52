"""vrnfast: fast, correct volumetric 3D face reconstruction (VRN, Jackson et al., ICCV 2017).

The public API is re-exported here; importing vrnfast loads only numpy and the op modules
(torch, Triton and the CUDA extension load on first use).
"""
from . import _moved
from ._backend import get_num_threads, set_num_threads
from .ops.marching_cubes import marching_cubes
from .ops.voxelize import voxelize

_moved.install()  # the old names of the modules that moved (vrnfast.reconstruct, ...) still import

__version__ = "0.1.0"
__all__ = ["marching_cubes", "voxelize", "sigmoid_bce", "warp_volume", "warp_image", "AugmentParams", "augment", "Augment", "Reconstructor", "nn", "io", "metrics",
           "set_num_threads", "get_num_threads", "__version__"]


def __getattr__(name):  # lazy: torch-based ops and submodules load on first use
    import importlib

    if name == "sigmoid_bce":
        return importlib.import_module(".ops.sigmoid_bce", __name__).sigmoid_bce
    if name in ("warp_volume", "warp_image"):
        return getattr(importlib.import_module(".ops.warp", __name__), name)
    if name in ("AugmentParams", "augment", "Augment"):
        return getattr(importlib.import_module(".training.augmentation", __name__), name)
    if name == "Reconstructor":
        return importlib.import_module(".reconstruction.reconstructor", __name__).Reconstructor
    if name == "faces":  # vrnfast.faces.detect(...): the documented shortcut
        return importlib.import_module(".reconstruction.faces", __name__)
    if name in ("io", "data", "kernels", "cli", "nn", "metrics", "models", "compat", "checkpoints", "evaluation",
                "reconstruction", "training", "viz", "runtime"):
        return importlib.import_module(f".{name}", __name__)
    if f"{__name__}.{name}" in _moved.MOVED:  # an old module's name: imported, with its DeprecationWarning
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'vrnfast' has no attribute {name!r}")
