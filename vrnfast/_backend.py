"""The one dispatch of vrnfast: input kind -> backend, and the validation helpers every op shares.

Array kinds: "numpy", "torch_cpu", "torch_cuda", "cupy". Nothing here imports torch or CuPy: an
input can only be a torch tensor if torch is already imported (likewise CuPy).
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from . import _optional

BACKENDS = ("auto", "reference", "cpp", "cuda", "triton")
CPU_KINDS = ("numpy", "torch_cpu")
CUDA_KINDS = ("torch_cuda", "cupy")

_num_threads = 0  # 0: the extension's default (VRNFAST_NUM_THREADS, else all cores)


def set_num_threads(n: int) -> None:
    """Threads used by the C++ kernels; 0 restores the default (VRNFAST_NUM_THREADS or all cores)."""
    global _num_threads
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise ValueError(f"num_threads must be an int >= 0, got {n!r}")
    _num_threads = n


def get_num_threads() -> int:
    return _num_threads or cpu_ext().default_num_threads()


def threads_arg() -> int:
    """What the C++ kernels are told: the set_num_threads value, 0 meaning their default."""
    return _num_threads


def _module(name):
    return sys.modules.get(name)


def is_torch(x) -> bool:
    torch = _module("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def is_cupy(x) -> bool:
    cp = _module("cupy")
    return cp is not None and isinstance(x, cp.ndarray)


def array_kind(x, name: str) -> str:
    if isinstance(x, np.ndarray):
        return "numpy"
    if is_torch(x):
        return "torch_cuda" if x.is_cuda else ("torch_cpu" if x.device.type == "cpu" else _bad_device(x, name))
    if is_cupy(x):
        return "cupy"
    raise TypeError(f"{name} must be a numpy array, torch tensor or CuPy array, got {type(x).__name__}")


def _bad_device(x, name):
    raise ValueError(f"{name} is on device {x.device}; vrnfast supports CPU and CUDA tensors")


def resolve_backend(op: str, kind: str, backend: str, supported) -> str:
    """The backend that runs `op` on an input of `kind`; ValueError for a bad or impossible choice."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    on_cuda = kind in CUDA_KINDS
    if backend == "auto":
        if not on_cuda:
            return "cpp"
        if "cuda" in supported:
            return "cuda"
        if has_triton():
            return "triton"
        _warn_no_triton(op)
        return "reference"
    if backend not in supported:
        choices = ", ".join(repr(b) for b in ("auto", *sorted(supported)))
        raise ValueError(f"{op} has no {backend!r} backend; choose from {choices}")
    if backend == "cpp" and on_cuda:
        raise ValueError(f"backend='cpp' runs on CPU arrays, but the input of {op} is on a CUDA device")
    if backend in ("cuda", "triton") and not on_cuda and not _triton_interpreted(backend):
        raise ValueError(f"backend={backend!r} needs a CUDA input, but the input of {op} is on the CPU")
    if backend == "triton" and not has_triton():
        raise ValueError(f"backend='triton' needs the triton package, which is not installed: {TRITON_HINT}")
    return backend


TRITON_HINT = _optional.hint("triton")


def has_triton() -> bool:
    """Whether triton can be imported (looked up without importing it)."""
    return _optional.installed("triton")


@lru_cache(maxsize=None)
def _warn_no_triton(op: str) -> None:
    import warnings

    warnings.warn(f"{op}: triton is not installed, so CUDA inputs run the plain PyTorch reference; for the "
                  f"fused kernels, {TRITON_HINT}", RuntimeWarning, stacklevel=4)


def _triton_interpreted(backend: str) -> bool:
    import os

    return backend == "triton" and os.environ.get("TRITON_INTERPRET") == "1"


# ---- extensions ---------------------------------------------------------------------------------

def _extension(name):
    """A compiled extension, imported by its name: `from . import _C` would read, to the layer
    checks (import-linter), as an import of the package vrnfast itself, which imports the ops."""
    return __import__(f"{__package__}.{name}", fromlist=[name])


@lru_cache(maxsize=None)
def cpu_ext():
    try:
        _C = _extension("_C")
    except ImportError as e:  # pragma: no cover - only on a broken install
        raise RuntimeError(
            "vrnfast's C++ extension vrnfast._C is not built; reinstall with `pip install -e .`") from e
    return _C


@lru_cache(maxsize=None)
def cuda_ext():
    """vrnfast._cuda, checked to run here; RuntimeError saying why not otherwise."""
    try:
        _cuda = _extension("_cuda")
    except ImportError as e:
        raise RuntimeError(cuda_not_built(cpu_ext().cuda_build, e)) from e
    why = _cuda.runtime_error()
    if why:
        raise RuntimeError(cuda_unavailable(_cuda.cuda_runtime_version, _cuda.driver_version(), why))
    return _cuda


def _cuda_version(v: int) -> str:
    major, minor = divmod(v // 10, 100)
    return f"{major}.{minor}"


def cuda_unavailable(runtime_version: int, driver_version: int, why: str) -> str:
    """Why vrnfast._cuda, built for CUDA `runtime_version`, cannot run on a machine whose driver
    supports `driver_version` (0: no driver), given the runtime's own error `why`: a machine
    without a GPU is told so, not sent to upgrade a driver it does not have."""
    built = f"vrnfast._cuda (built with CUDA {_cuda_version(runtime_version)})"
    if driver_version == 0:
        return f"{built} cannot run here: no CUDA driver or device is present on this machine"
    if driver_version < runtime_version:
        return (f"{built} cannot run here: the driver supports CUDA {_cuda_version(driver_version)} only. A driver "
                f"of CUDA {_cuda_version(runtime_version)} or newer is needed; or rebuild with a toolkit matching "
                f"this driver.")
    return f"{built} cannot run here: {why} (the driver supports CUDA {_cuda_version(driver_version)})"


def cuda_not_built(build: str, error=None) -> str:
    """Why vrnfast._cuda cannot be imported, from what the build did (vrnfast._C.cuda_build) and
    the import's own error."""
    if build.startswith("skipped on request"):
        return ("vrnfast was built without its CUDA extension (vrnfast._cuda), on request (VRNFAST_CUDA=0). "
                "Reinstall without VRNFAST_CUDA=0, with nvcc on PATH or CUDA_HOME set, to build it.")
    if build == "built":
        return f"vrnfast._cuda was built but cannot be imported ({error}); reinstall vrnfast."
    return ("vrnfast was built without its CUDA extension (vrnfast._cuda): nvcc was not found at build "
            "time. Reinstall with nvcc on PATH or CUDA_HOME set (VRNFAST_CUDA=1 makes it mandatory).")


def has_cuda_ext() -> bool:
    try:
        cuda_ext()
        return True
    except RuntimeError:
        return False


# ---- validation ---------------------------------------------------------------------------------

def dtype_name(x) -> str:
    """numpy-style dtype name of an array of any supported kind ('float32', 'bool', 'bfloat16', ...)."""
    dt = x.dtype
    return str(dt).removeprefix("torch.") if is_torch(x) else np.dtype(dt).name


def real_dtype_code(x, name: str) -> int:
    """The extension's code for x's dtype; TypeError for complex and non-numeric dtypes."""
    dn = dtype_name(x)
    codes = cpu_ext().dtypes
    if dn not in codes:
        raise TypeError(f"{name} has dtype {dn}; expected a real dtype ({', '.join(sorted(codes))})")
    return codes[dn]


def check_finite(value, name: str) -> float:
    if isinstance(value, (str, bytes)):  # float("0.5") would take a string
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if isinstance(value, complex) or not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def check_spacing(spacing, name: str = "spacing") -> tuple[float, float, float]:
    try:
        vals = tuple(float(s) for s in spacing)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of 3 positive numbers, got {spacing!r}") from None
    if len(vals) != 3 or not all(math.isfinite(s) and s > 0 for s in vals):
        raise ValueError(f"{name} must be 3 positive finite numbers, got {spacing!r}")
    return vals


def check_shape3(shape, name: str) -> tuple[int, int, int]:
    """A (D, H, W) shape of 3 positive ints."""
    try:
        dims = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be 3 positive ints (D, H, W), got {shape!r}") from None
    if len(dims) != 3 or min(dims) < 1:
        raise ValueError(f"{name} must be 3 positive ints (D, H, W), got {shape!r}")
    return dims


# ---- raw buffers --------------------------------------------------------------------------------

@dataclass
class Buffer:
    """An array as the extensions take it: pointer to element 0, shape, element strides."""
    array: object  # keeps the memory alive (may be a contiguous copy of the input)
    ptr: int
    shape: tuple
    strides: tuple
    device: int = -1


def buffer(x, kind: str) -> Buffer:
    if kind == "numpy":
        if not x.dtype.isnative:  # e.g. big-endian data read from a file
            x = x.astype(x.dtype.newbyteorder("="))
        if any(s % x.itemsize for s in x.strides):  # byte strides that are not whole elements
            x = np.ascontiguousarray(x)
        return Buffer(x, x.__array_interface__["data"][0], x.shape, tuple(s // x.itemsize for s in x.strides))
    if kind in ("torch_cpu", "torch_cuda"):
        x = x.detach()
        dev = x.device.index if kind == "torch_cuda" else -1
        if dev is None:
            dev = _module("torch").cuda.current_device()
        return Buffer(x, x.data_ptr(), tuple(x.shape), tuple(x.stride()), dev)
    if kind == "cupy":
        if any(s % x.itemsize for s in x.strides):
            x = _module("cupy").ascontiguousarray(x)
        return Buffer(x, x.data.ptr, x.shape, tuple(s // x.itemsize for s in x.strides), x.device.id)
    raise AssertionError(kind)


def data_ptr(a) -> int:
    if isinstance(a, np.ndarray):
        return a.__array_interface__["data"][0]
    if is_torch(a):
        return a.data_ptr()
    return a.data.ptr  # CuPy


def empty(kind: str, like, shape, dtype: str):
    """An uninitialised array of the same library and device as `like`."""
    if kind == "numpy":
        return np.empty(shape, dtype=dtype)
    if kind in ("torch_cpu", "torch_cuda"):
        torch = _module("torch")
        return torch.empty(shape, dtype=getattr(torch, dtype), device=like.device)
    cp = _module("cupy")
    with cp.cuda.Device(like.device.id):
        return cp.empty(shape, dtype=dtype)


def cuda_stream(kind: str, like) -> int:
    """Handle of the current stream on `like`'s device, as the library that owns `like` sees it."""
    if kind == "torch_cuda":
        return _module("torch").cuda.current_stream(like.device).cuda_stream
    cp = _module("cupy")
    with cp.cuda.Device(like.device.id):
        return cp.cuda.get_current_stream().ptr


def from_numpy(kind: str, like, a):
    """Moves a numpy result to the library/device of `like`."""
    if kind == "numpy":
        return a
    if kind in ("torch_cpu", "torch_cuda"):
        t = _module("torch").from_numpy(np.ascontiguousarray(a))
        return t if kind == "torch_cpu" else t.to(like.device)
    cp = _module("cupy")
    with cp.cuda.Device(like.device.id):
        return cp.asarray(a)


def as_numpy(x, name: str) -> np.ndarray:
    """Any supported array (numpy, torch, CuPy) as numpy, on the host; TypeError naming `name` for
    anything else."""
    if isinstance(x, np.ndarray):
        return x
    return to_numpy(x, array_kind(x, name))


def to_numpy(x, kind: str) -> np.ndarray:
    if kind == "numpy":
        return x
    if kind in ("torch_cpu", "torch_cuda"):
        x = x.detach().cpu()
        if x.dtype == _module("torch").bfloat16:
            x = x.float()
        return x.numpy()
    return x.get()
