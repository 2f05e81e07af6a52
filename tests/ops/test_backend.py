"""The dispatch rules of vrnfast._backend."""
import numpy as np
import pytest
import torch

from vrnfast import _backend as B


def test_array_kinds():
    assert B.array_kind(np.zeros(2), "x") == "numpy"
    assert B.array_kind(torch.zeros(2), "x") == "torch_cpu"
    with pytest.raises(TypeError, match="x must be a numpy array"):
        B.array_kind([1, 2], "x")
    with pytest.raises(ValueError, match="device meta"):
        B.array_kind(torch.zeros(2, device="meta"), "x")


def test_resolve_backend(monkeypatch):
    ops = {"reference", "cpp", "cuda"}
    assert B.resolve_backend("op", "numpy", "auto", ops) == "cpp"
    assert B.resolve_backend("op", "torch_cuda", "auto", ops) == "cuda"
    monkeypatch.setattr(B, "has_triton", lambda: True)
    assert B.resolve_backend("op", "torch_cuda", "auto", {"reference", "cpp", "triton"}) == "triton"
    assert B.resolve_backend("op", "cupy", "reference", ops) == "reference"
    with pytest.raises(ValueError, match="backend must be one of"):
        B.resolve_backend("op", "numpy", "gpu", ops)
    with pytest.raises(ValueError, match="op has no 'triton' backend"):
        B.resolve_backend("op", "numpy", "triton", ops)
    with pytest.raises(ValueError, match="needs a CUDA input"):
        B.resolve_backend("op", "torch_cpu", "cuda", ops)
    with pytest.raises(ValueError, match="runs on CPU arrays"):
        B.resolve_backend("op", "torch_cuda", "cpp", ops)


def test_without_triton_cuda_inputs_run_the_reference_and_say_so(monkeypatch):
    monkeypatch.setattr(B, "has_triton", lambda: False)
    B._warn_no_triton.cache_clear()
    triton_ops = {"reference", "cpp", "triton"}
    with pytest.warns(RuntimeWarning, match=r"op: triton is not installed.*pip install 'vrnfast\[triton\]'"):
        assert B.resolve_backend("op", "torch_cuda", "auto", triton_ops) == "reference"
    assert B.resolve_backend("op", "numpy", "auto", triton_ops) == "cpp"  # the CPU never needs it
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    with pytest.raises(ValueError, match=r"backend='triton' needs the triton package.*vrnfast\[triton\]"):
        B.resolve_backend("op", "torch_cpu", "triton", triton_ops)
    B._warn_no_triton.cache_clear()


def test_has_triton_matches_an_import():
    try:
        import triton  # noqa: F401
        importable = True
    except ImportError:
        importable = False
    assert B.has_triton() is importable


def test_dtype_codes_cover_numpy_and_torch():
    assert B.real_dtype_code(np.zeros(1, bool), "v") == B.real_dtype_code(np.zeros(1, np.uint8), "v")
    assert B.real_dtype_code(torch.zeros(1, dtype=torch.bfloat16), "v") == B.cpu_ext().dtypes["bfloat16"]
    with pytest.raises(TypeError, match="v has dtype complex128"):
        B.real_dtype_code(np.zeros(1, complex), "v")
    with pytest.raises(TypeError, match="v has dtype complex64"):
        B.real_dtype_code(torch.zeros(1, dtype=torch.complex64), "v")


def test_buffer_strides_in_elements():
    a = np.zeros((3, 4, 5), np.float64)[::-1, :, ::2]
    buf = B.buffer(a, "numpy")
    assert buf.strides == (-20, 5, 2) and buf.ptr == a.__array_interface__["data"][0]
    t = torch.zeros(3, 4, 5)[1:, :, 1:]
    tb = B.buffer(t, "torch_cpu")
    assert tb.strides == (20, 5, 1) and tb.ptr == t.data_ptr()


def test_num_threads():
    assert B.get_num_threads() >= 1
    with pytest.raises(ValueError, match="num_threads"):
        B.set_num_threads(-1)


def test_cuda_ext_missing_gives_a_clear_error(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_cuda(name, globals=None, locals=None, fromlist=(), level=0):
        if fromlist and "_cuda" in fromlist:
            raise ImportError("simulated: no vrnfast._cuda")
        return real_import(name, globals, locals, fromlist, level)

    class Built:  # what vrnfast._C says the build did about vrnfast._cuda
        cuda_build = "skipped: nvcc was not found"

    B.cuda_ext.cache_clear()
    monkeypatch.setattr(builtins, "__import__", no_cuda)
    monkeypatch.setattr(B, "cpu_ext", lambda: Built)
    try:
        with pytest.raises(RuntimeError, match="built without its CUDA extension.*nvcc was not found"):
            B.cuda_ext()
        assert not B.has_cuda_ext()
        B.cuda_ext.cache_clear()
        Built.cuda_build = "built"
        with pytest.raises(RuntimeError, match=r"was built but cannot be imported \(simulated: no vrnfast._cuda\)"):
            B.cuda_ext()
    finally:
        monkeypatch.undo()
        B.cuda_ext.cache_clear()


def test_cuda_ext_without_a_device_says_why():
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    B.cuda_ext.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="cannot run here|built without"):
            B.cuda_ext()
    finally:
        B.cuda_ext.cache_clear()


def test_triton_kernels_subpackage_is_installed():
    import vrnfast.kernels

    assert vrnfast.kernels.__name__ == "vrnfast.kernels"
