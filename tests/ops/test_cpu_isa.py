"""The generic, AVX2 and AVX-512 builds of the C++ kernels give bitwise-identical per-element
results (losses, gradients, mesh); reduced sums may differ in the last bits of their float64
accumulation, as the lanes add up in a different order.

Each build is forced with VRNFAST_CPU_ISA in a subprocess; the outputs are compared here.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

SCRIPT = r"""
import sys, numpy as np, torch, vrnfast
from vrnfast.data import random_smooth
x = torch.from_numpy(random_smooth((7, 9, 301), sigma=1.5, seed=1) * 6)
x[0, 0, :5] = torch.tensor([float('nan'), 1e4, -1e4, 88.0, -0.0])
y = (torch.rand(x.shape, generator=torch.Generator().manual_seed(2)) > 0.5).to(torch.uint8)
xr = x.clone().requires_grad_()
loss = vrnfast.sigmoid_bce(xr, y, reduction='none', backend='cpp')
loss.sum().backward()
verts, faces = vrnfast.marching_cubes(x.numpy(), 0.0)
import vrnfast._C as C
np.savez(sys.argv[1], loss=loss.detach().numpy(), grad=xr.grad.numpy(), verts=verts, faces=faces,
         isa=np.array([C.cpu_isa, C.bce_isa]))
"""


def run(tmp_path, isa):
    out = tmp_path / f"{isa}.npz"
    env = {**os.environ, "VRNFAST_CPU_ISA": isa}
    # from tmp_path: `python -c` puts the working directory first on sys.path, and from a source
    # checkout that would import the uninstalled package
    subprocess.run([sys.executable, "-c", SCRIPT, str(out)], check=True, env=env, cwd=tmp_path)
    return np.load(out)


def test_builds_agree_bitwise(tmp_path):
    results = {isa: run(tmp_path, isa) for isa in ("generic", "x86v3", "x86v4")}
    base = results["generic"]
    assert list(base["isa"]) == ["generic", "generic"]
    for isa, r in results.items():
        for key in ("loss", "grad", "verts", "faces"):
            np.testing.assert_array_equal(r[key], base[key], err_msg=f"{isa}: {key}")
    if list(results["x86v4"]["isa"]) == ["generic", "generic"]:
        pytest.skip("this CPU has no AVX2: only the generic build ran")
