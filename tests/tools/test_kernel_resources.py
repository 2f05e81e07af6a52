"""GPU kernels compiled for real targets without a GPU (tools/kernel_resources.py): every Triton
launch configuration for sm_80 and sm_90, the CUDA kernels by nvcc, registers and no spills; and
the launch configurations are the ones the launchers really use."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "kernel_resources.py"
pytestmark = pytest.mark.skipif(not TOOL.exists(), reason="needs tools/ of a clone")


def _tool():
    spec = importlib.util.spec_from_file_location("kernel_resources", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PTXAS_LOG = """ptxas info    : 11 bytes gmem, 8 bytes cmem[4]
ptxas info    : Compiling entry function '_Z4emitPf' for 'sm_80'
ptxas info    : Function properties for _Z4emitPf
    96 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads
ptxas info    : Used 92 registers, used 1 barriers, 1024 bytes smem, 512 bytes cmem[0]
ptxas info    : Compiling entry function '_Z4emitPf' for 'sm_90'
ptxas info    : Function properties for _Z4emitPf
    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
ptxas info    : Used 40 registers, used 0 barriers, 432 bytes cmem[0]
"""


def test_ptxas_log_parsing():
    rows = _tool().parse_ptxas(PTXAS_LOG)
    assert rows == {("_Z4emitPf", 80): dict(registers=92, spill_stores=8, spill_loads=4, smem=1024, stack=96),
                    ("_Z4emitPf", 90): dict(registers=40, spill_stores=0, spill_loads=0, smem=0, stack=0)}
    anonymous = "ptxas info : Used 30 registers, used 0 barriers\n    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads"
    assert _tool().parse_ptxas(anonymous) == {(None, None): dict(registers=30, spill_stores=0, spill_loads=0, smem=0,
                                                                 stack=0)}


def test_cuda_names_shorten_to_kernel_and_template():
    short = _tool().short_name
    assert short("void vrn::generic::mc::cuda::(anonymous namespace)::emit_kernel<vrn::generic::bf16_bits, long>"
                 "(vrn::generic::bf16_bits const*, unsigned int const*)") == "emit_kernel<bf16_bits, long>"
    assert short("void cub::CUB_300000_SM_800::DeviceScanKernel<cub::DeviceScanPolicy<long>, long*>(long*)") == \
        "cub::DeviceScanKernel"


def _run_tool(tmp_path, *args):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    out = tmp_path / "rows.json"
    run = subprocess.run([sys.executable, str(TOOL), *args, "--json", str(out)], capture_output=True, text=True,
                         env=env, cwd=tmp_path)
    return run, json.loads(out.read_text()) if out.exists() else []


@pytest.mark.triton
def test_every_triton_launch_configuration_compiles_for_sm80_and_sm90_without_spills(tmp_path):
    run, rows = _run_tool(tmp_path, "--triton")
    assert run.returncode == 0, run.stdout + run.stderr
    from vrnfast.kernels import sigmoid_bce, warp

    expected = {(c.name, c.label, arch) for m in (sigmoid_bce, warp) for c in m.launch_configs() for arch in (80, 90)}
    assert {(r["kernel"], r["config"], r["arch"]) for r in rows} == expected
    assert all(0 < r["registers"] <= 255 and r["spill_stores"] == r["spill_loads"] == 0 for r in rows)
    assert "| _bce_fwd_kernel (triton) | sm_90 |" in run.stdout


@pytest.mark.skipif(not (shutil.which("nvcc") or Path("/usr/local/cuda/bin/nvcc").exists()), reason="needs nvcc")
def test_cuda_kernels_compile_for_sm80_and_sm90_without_spills(tmp_path):
    run, rows = _run_tool(tmp_path, "--cuda")
    assert run.returncode == 0, run.stdout + run.stderr
    kernels = {(r["kernel"].split("<")[0], r["arch"]) for r in rows}
    for k in ("classify_kernel", "count_kernel", "totals_kernel", "emit_kernel"):
        assert {(k, 80), (k, 90)} <= kernels
    assert all(r["spill_stores"] == r["spill_loads"] == 0 for r in rows)
    # one classify and two emit instantiations (int32 and int64 faces) per volume dtype
    assert sum(r["kernel"].startswith("emit_kernel<") and r["arch"] == 90 for r in rows) == \
        2 * sum(r["kernel"].startswith("classify_kernel<") and r["arch"] == 90 for r in rows)


class _Recorder:
    """Stands in for a Triton kernel: notes each launch's argument types, constexprs and options,
    then launches the real kernel."""

    def __init__(self, kernel, seen):
        self.kernel, self.seen = kernel, seen

    def __getitem__(self, grid):
        def launch(*args, **kwargs):
            from vrnfast.kernels._device import POINTER

            names = self.kernel.arg_names
            sig = {}
            for name, value in zip(names, args):
                if isinstance(value, torch.Tensor):
                    sig[name] = POINTER[value.dtype]
                elif isinstance(value, float):
                    sig[name] = "fp32"
                else:
                    sig[name] = "i32" if -2**31 <= value < 2**31 else "i64"
            constexprs = {k: v for k, v in kwargs.items() if k in names}
            options = {k: v for k, v in kwargs.items() if k not in names}
            self.seen.append((self.kernel.fn.__name__, sig, constexprs, options))
            return self.kernel[grid](*args, **kwargs)
        return launch


@pytest.mark.triton
def test_the_configurations_are_the_launches(monkeypatch):
    """Each launch the ops make through the public API is one of launch_configs(): the list the
    compile check covers cannot drift from the launch sites."""
    import vrnfast
    from vrnfast.kernels import sigmoid_bce, warp

    configs = [(c.name, c.signature, c.constexprs, c.options) for m in (sigmoid_bce, warp) for c in m.launch_configs()]
    seen = []
    for module, names in ((sigmoid_bce, ("_bce_fwd_kernel", "_scale_unless_one_kernel")),
                          (warp, ("_warp_volume_kernel", "_warp_image_kernel"))):
        for name in names:
            monkeypatch.setattr(module, name, _Recorder(getattr(module, name), seen))
    g = torch.Generator().manual_seed(0)
    for dtype in (torch.float32, torch.bfloat16):
        for target in (torch.bool, torch.float64, torch.int64):
            x = torch.randn(3, 5, generator=g).to(dtype).requires_grad_()
            y = (torch.rand(3, 5, generator=g) > 0.5).to(target)
            for kw in ({}, {"pos_weight": torch.rand(5, generator=g)}, {"reduction": "none"}):
                loss = vrnfast.sigmoid_bce(x, y, backend="triton", **kw)
                loss.backward(torch.full_like(loss, 2.0))
    sigmoid_bce.scale_unless_one_(torch.ones(10), torch.tensor(2.0))  # the backward's, on CUDA gradients
    m3 = torch.eye(3, 4, dtype=torch.float64).expand(1, 3, 4)
    for dtype in (torch.uint8, torch.bool, torch.float16):
        vol = torch.ones(1, 3, 4, 5, dtype=dtype)
        for mode in ("nearest", "trilinear"):
            vrnfast.warp_volume(vol, m3, mode, backend="triton")
        img = torch.ones(1, 3, 4, 5, dtype=dtype)
        for scale in (None, torch.ones(3)):
            vrnfast.warp_image(img, torch.eye(2, 3, dtype=torch.float64), scale, backend="triton")
    launched = {s[0] for s in seen}
    assert launched == {"_bce_fwd_kernel", "_scale_unless_one_kernel", "_warp_volume_kernel", "_warp_image_kernel"}
    for launch in seen:
        assert launch in configs, launch
