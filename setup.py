"""Build of vrnfast: vrnfast._C (C++17, always) and vrnfast._cuda (CUDA C++, when nvcc is found).

Environment:
  VRNFAST_CUDA=0|1        skip / require the CUDA extension (default: build it if nvcc is found)
  VRNFAST_CUDA_ARCH=80;90 SM architectures for the CUDA extension (PTX of the last one is added)
  CUDA_HOME               toolkit root (default: the parent of nvcc's bin/)

Neither extension links against libtorch: both take raw pointers, so building needs no torch.
"""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from pybind11.setup_helpers import Pybind11Extension
from setuptools import find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).parent
CSRC = "csrc"
CXX_FLAGS = ["-O3", "-ffp-contract=off", "-fvisibility=hidden", "-pthread"]


def find_nvcc():
    cuda_home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH")
    if cuda_home and (Path(cuda_home) / "bin" / "nvcc").exists():
        return str(Path(cuda_home) / "bin" / "nvcc")
    return shutil.which("nvcc") or (
        "/usr/local/cuda/bin/nvcc" if Path("/usr/local/cuda/bin/nvcc").exists() else None)


def want_cuda():
    """(nvcc or None, the verdict compiled into vrnfast._C as cuda_build: 1 built, 0 skipped on
    request, 2 skipped for want of nvcc)."""
    flag = os.environ.get("VRNFAST_CUDA", "").strip()
    if flag == "0":
        return None, 0
    nvcc = find_nvcc()
    if flag == "1" and nvcc is None:
        sys.exit("VRNFAST_CUDA=1 but nvcc was not found (set CUDA_HOME or put nvcc on PATH)")
    return nvcc, 1 if nvcc else 2


def version():
    """vrnfast.__version__, the one place the version is written."""
    text = (ROOT / "vrnfast" / "__init__.py").read_text()
    return re.search(r'^__version__ = "([^"]+)"', text, re.M).group(1)


def cuda_home(nvcc):
    candidates = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH"),
                  Path(os.path.realpath(nvcc)).parent.parent, "/usr/local/cuda"]
    for c in candidates:
        if c and (Path(c) / "include" / "cuda_runtime.h").exists():
            return Path(c)
    sys.exit(f"found nvcc at {nvcc} but no CUDA toolkit headers; set CUDA_HOME")


def gencode_flags():
    archs = [a.strip() for a in os.environ.get("VRNFAST_CUDA_ARCH", "80;90").replace(",", ";").split(";") if a.strip()]
    flags = []
    for a in archs:
        flags += ["-gencode", f"arch=compute_{a},code=sm_{a}"]
    flags += ["-gencode", f"arch=compute_{archs[-1]},code=compute_{archs[-1]}"]
    return flags


class BuildExt(build_ext):
    """Builds the extensions in parallel and compiles .cu sources with nvcc."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1

    def build_extension(self, ext):
        cu = [s for s in ext.sources if s.endswith(".cu")]
        if cu:
            ext.sources = [s for s in ext.sources if not s.endswith(".cu")]
            ext.extra_objects = list(ext.extra_objects or []) + [self.nvcc_compile(s, ext) for s in cu]
        super().build_extension(ext)

    def nvcc_compile(self, source, ext):
        nvcc = ext.nvcc
        obj = Path(self.build_temp) / (Path(source).with_suffix(".o").name)
        obj.parent.mkdir(parents=True, exist_ok=True)
        cmd = [nvcc, "-c", source, "-o", str(obj), "-std=c++17", "-O3", "--fmad=false",
               "-Xcompiler", "-fPIC,-fvisibility=hidden", f"-I{CSRC}", *gencode_flags()]
        print(" ".join(cmd), flush=True)
        subprocess.check_call(cmd)
        return str(obj)


def extensions():
    nvcc, cuda_build = want_cuda()
    exts = [Pybind11Extension(
        "vrnfast._C",
        sources=[f"{CSRC}/bindings_cpu.cpp", f"{CSRC}/common/parallel.cpp",
                 f"{CSRC}/marching_cubes/mc_cpu.cpp", f"{CSRC}/marching_cubes/mc_cpu_generic.cpp",
                 f"{CSRC}/marching_cubes/mc_cpu_x86v3.cpp", f"{CSRC}/sigmoid_bce/bce_cpu.cpp",
                 f"{CSRC}/sigmoid_bce/bce_cpu_generic.cpp", f"{CSRC}/sigmoid_bce/bce_cpu_x86v3.cpp",
                 f"{CSRC}/sigmoid_bce/bce_cpu_x86v4.cpp", f"{CSRC}/warp/warp_cpu.cpp",
                 f"{CSRC}/voxelize/voxelize.cpp"],
        include_dirs=[CSRC], cxx_std=17, extra_compile_args=CXX_FLAGS, extra_link_args=["-pthread"],
        define_macros=[("VRNFAST_CUDA_BUILD", str(cuda_build))])]
    if nvcc:
        home = cuda_home(nvcc)
        libdirs = [str(p) for p in (home / "lib64", home / "targets" / "x86_64-linux" / "lib") if p.exists()]
        ext = Pybind11Extension(
            "vrnfast._cuda",
            sources=[f"{CSRC}/bindings_cuda.cpp", f"{CSRC}/marching_cubes/mc_cuda.cu"],
            include_dirs=[CSRC, str(home / "include")], cxx_std=17, extra_compile_args=CXX_FLAGS,
            library_dirs=libdirs, libraries=["cudart_static", "dl", "rt"], extra_link_args=["-pthread"])
        ext.nvcc = nvcc
        exts.append(ext)
    return exts


setup(
    name="vrnfast",
    version=version(),
    description="Fast, correct volumetric 3D face reconstruction (VRN) with fused CPU/CUDA/Triton kernels",
    # vrnfast's own code is BSD-3-Clause (LICENSE); the vendored viewer (vrnfast/viewer/) keeps its
    # licences: model-viewer Apache-2.0, three.js and the rest it bundles MIT and BSD-3-Clause
    license_expression="BSD-3-Clause AND Apache-2.0 AND MIT",
    license_files=["LICENSE", "vrnfast/viz/viewer/LICENSE-*"],
    classifiers=[
        "Development Status :: 3 - Alpha",
        "Intended Audience :: Science/Research",
        "Intended Audience :: Developers",
        "Operating System :: POSIX :: Linux",
        "Programming Language :: C++",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
        "Topic :: Scientific/Engineering :: Image Processing",
        "Topic :: Scientific/Engineering :: Visualization",
        "Environment :: GPU :: NVIDIA CUDA",
    ],
    long_description=(ROOT / "README.md").read_text() if (ROOT / "README.md").exists() else "",
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["vrnfast", "vrnfast.*"]),
    ext_modules=extensions(),
    cmdclass={"build_ext": BuildExt},
    # triton is not a dependency: its kernels run only on CUDA tensors, and CUDA builds of torch
    # bring it; CPU-only installs skip its 300 MB wheel. The extra adds it (e.g. for the tests that
    # run the kernels in Triton's interpreter on the CPU).
    # xxhash: trimesh hashes the arrays it exports with it (a GLB of a paper-size face: 18 ms
    # instead of 32 without it)
    install_requires=["numpy>=1.23", "torch>=2.5", "tqdm", "scipy>=1.9", "pillow>=10.1", "trimesh>=4",
                      "xxhash>=3", "matplotlib>=3.6"],
    # the browser viewer vendored for `reconstruct --format html` (vrnfast/viz/viewer/: script and licences)
    package_data={"vrnfast.viz": ["viewer/*"]},
    extras_require={
        "triton": ["triton>=3.1; platform_system == 'Linux'"],
        # face detection (vrnfast.faces): dlib prebuilt, and its model files (about 100 MB)
        "faces": ["dlib-bin>=19.24", "face-recognition-models>=0.3"],
        # videos in (vrnfast.sources): imageio, and ffmpeg itself in imageio-ffmpeg's wheel (about 70 MB)
        "video": ["imageio>=2.28", "imageio-ffmpeg>=0.4.9"],
        # the authors' Torch7 model (vrnfast convert)
        "convert": ["torchfile>=0.1"],
        # TensorBoard event files (vrnfast train --tensorboard)
        "tb": ["tensorboard>=2.12"],
        # import-linter: the layer contracts in pyproject.toml (tests/test_layers.py, CI)
        "test": ["pytest>=7", "pytest-benchmark>=4", "scikit-image>=0.20", "monai>=1.3", "import-linter>=2.1"],
        "bench": ["PyMCubes", "vtk"],  # the other references the benchmarks time
    },
    entry_points={"console_scripts": ["vrnfast=vrnfast.cli:main"]},
)
