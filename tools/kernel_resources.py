"""Registers, spills and shared memory of every GPU kernel of vrnfast, compiled for real targets on
a machine without a GPU.

    python tools/kernel_resources.py [--arch 80 90] [--triton] [--cuda] [--json OUT] [--jobs N]

Triton: every launch configuration the launchers can use (`launch_configs()` beside each
launcher in vrnfast/kernels/) is compiled by `triton.compile` for each sm_XX, which runs Triton's
whole pipeline and ptxas: the first check these kernels get from the real compiler (the
interpreter the CPU tests use accepts code the compiler rejects). CUDA: csrc/marching_cubes/
mc_cuda.cu is compiled by nvcc with the flags of setup.py and `-Xptxas -v`.

Prints a markdown table per kernel and architecture (the README's); exits 1 on a compile error
or any register spill.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHS = (80, 90)
# the flags setup.py's BuildExt.nvcc_compile gives nvcc
NVCC_FLAGS = ["-std=c++17", "-O3", "--fmad=false", "-Xcompiler", "-fPIC,-fvisibility=hidden"]

_USED = re.compile(r"Used (\d+) registers(?:, used (\d+) barriers)?(?:, (\d+) bytes smem)?")
_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_ENTRY = re.compile(r"Compiling entry function '([^']+)' for 'sm_(\d+)'")


def parse_ptxas(log: str):
    """ptxas -v output -> {(function, arch or None): {registers, spill_stores, spill_loads,
    smem, stack}} (arch None where the log does not say)."""
    out, current = {}, None
    for line in log.splitlines():
        m = _ENTRY.search(line)
        if m:
            current = (m.group(1), int(m.group(2)))
            out[current] = {"registers": 0, "spill_stores": 0, "spill_loads": 0, "smem": 0, "stack": 0}
            continue
        frame, used = _FRAME.search(line), _USED.search(line)
        if current is None and (frame or used):  # a log that names no entry: one kernel
            current = (None, None)
            out[current] = {"registers": 0, "spill_stores": 0, "spill_loads": 0, "smem": 0, "stack": 0}
        m = frame
        if m:
            out[current].update(stack=int(m.group(1)), spill_stores=int(m.group(2)), spill_loads=int(m.group(3)))
        m = used
        if m:
            out[current].update(registers=int(m.group(1)), smem=int(m.group(3) or 0))
    return out


# ---- Triton -------------------------------------------------------------------------------------

def triton_configs():
    from vrnfast.kernels import sigmoid_bce, warp

    return list(sigmoid_bce.launch_configs()) + list(warp.launch_configs())


def _source(triton, cfg):
    """The AST source for triton.compile, in the API of the installed Triton: 3.2+ takes every
    argument in `signature` (constexprs typed "constexpr") and the values by name; 3.1 takes the
    runtime arguments by index and the constants by index."""
    import inspect

    from triton.compiler import ASTSource

    names = cfg.kernel.arg_names
    if "constexprs" in inspect.signature(ASTSource).parameters:
        sig = {n: cfg.signature.get(n, "constexpr") for n in names}
        return ASTSource(cfg.kernel, sig, cfg.constexprs)
    sig = {i: cfg.signature[n] for i, n in enumerate(names) if n in cfg.signature}
    return ASTSource(cfg.kernel, sig, {names.index(k): v for k, v in cfg.constexprs.items()})


def _ptxas_log(triton, compiled, arch, options) -> str:
    """ptxas -v for the compiled PTX, by the ptxas Triton uses."""
    from triton.backends.nvidia import compiler as nv

    if hasattr(nv, "get_ptxas"):  # 3.4+
        ptxas = nv.get_ptxas(arch).path
    else:  # 3.1-3.3
        ptxas = nv._path_to_binary("ptxas")[0]
    with tempfile.TemporaryDirectory() as d:
        ptx = Path(d) / "k.ptx"
        ptx.write_text(compiled.asm["ptx"])
        fmad = [] if options.get("enable_fp_fusion", True) else ["--fmad=false"]
        run = subprocess.run([ptxas, "-v", *fmad, f"--gpu-name=sm_{arch}",
                              str(ptx), "-o", str(Path(d) / "k.cubin")], capture_output=True, text=True)
    if run.returncode:
        raise RuntimeError(f"ptxas failed: {run.stderr}")
    return run.stderr + run.stdout


def compile_triton(job):
    """Compiles one (config index, arch); returns its row (worker processes import afresh)."""
    index, arch = job
    os.environ.pop("TRITON_INTERPRET", None)  # the interpreter's jit functions cannot be compiled
    import triton
    from triton.backends.compiler import GPUTarget

    cfg = triton_configs()[index]
    row = {"kind": "triton", "kernel": cfg.name, "config": cfg.label, "arch": arch,
           "options": {k: v for k, v in cfg.options.items()}}
    try:
        knobs = getattr(triton, "knobs", None)
        with contextlib.ExitStack() as stack:
            log = io.StringIO()
            if knobs is not None and hasattr(knobs.nvidia, "dump_ptxas_log"):
                stack.enter_context(knobs.nvidia.scope())
                knobs.nvidia.dump_ptxas_log = True
                stack.enter_context(contextlib.redirect_stdout(log))
            compiled = triton.compile(_source(triton, cfg), target=GPUTarget("cuda", arch, 32),
                                      options=dict(cfg.options))
        # a compile that Triton's cache served ran no ptxas: then ptxas -v runs on its PTX
        text = log.getvalue() if "Used " in log.getvalue() else _ptxas_log(triton, compiled, arch, cfg.options)
        (res,) = parse_ptxas(text).values()
        res["smem"] = max(res["smem"], int(getattr(compiled.metadata, "shared", 0)))  # Triton's is dynamic
        row.update(res)
    except Exception as e:  # a compile error is a result: reported, and the run fails
        row["error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
    return row


def triton_rows(archs, jobs):
    os.environ.pop("TRITON_INTERPRET", None)
    # a cache of its own: every compile runs ptxas, whose log (captured) holds the resources
    os.environ["TRITON_CACHE_DIR"] = tempfile.mkdtemp(prefix="vrnfast-triton-cache-")
    os.environ.setdefault("TRITON_DEFAULT_FP_FUSION", "1")  # explicit per launch; silences 3.9's notice
    work = [(i, arch) for i in range(len(triton_configs())) for arch in archs]
    if jobs == 1:
        return [compile_triton(w) for w in work]
    import multiprocessing

    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as ex:
        return list(ex.map(compile_triton, work, chunksize=4))


# ---- CUDA ---------------------------------------------------------------------------------------

def _demangle(names):
    cxxfilt = shutil.which("c++filt")
    if not cxxfilt:
        return {n: n for n in names}
    out = subprocess.run([cxxfilt], input="\n".join(names), capture_output=True, text=True).stdout.splitlines()
    return dict(zip(names, out))


def short_name(demangled: str) -> str:
    """'void vrn::generic::mc::cuda::(anonymous namespace)::emit_kernel<float, int>(...)' ->
    'emit_kernel<float, int>'; CUB's kernels keep their 'cub::' prefix and lose their arguments."""
    name = demangled.removeprefix("void ").replace("(anonymous namespace)::", "")
    depth = 0
    for i, ch in enumerate(name):  # cut the argument list: the first "(" outside template brackets
        depth += (ch == "<") - (ch == ">")
        if ch == "(" and depth == 0:
            name = name[:i]
            break
    head = name.split("<")[0]
    base = head.rsplit("::", 1)[-1]
    if "cub" in head.split("::") or head.startswith("cub"):
        return f"cub::{base}"
    return base + name[len(head):].replace("vrn::generic::", "")


def cuda_rows(archs, nvcc=None):
    nvcc = nvcc or os.environ.get("NVCC") or shutil.which("nvcc") or "/usr/local/cuda/bin/nvcc"
    if not Path(nvcc).exists() and not shutil.which(nvcc):
        raise FileNotFoundError("nvcc not found (put it on PATH or set NVCC)")
    gencode = [f for a in archs for f in ("-gencode", f"arch=compute_{a},code=sm_{a}")]
    with tempfile.TemporaryDirectory() as d:
        run = subprocess.run([nvcc, "-c", str(ROOT / "csrc" / "marching_cubes" / "mc_cuda.cu"), "-o",
                              str(Path(d) / "mc.o"), *NVCC_FLAGS, f"-I{ROOT / 'csrc'}", *gencode, "-Xptxas", "-v"],
                             capture_output=True, text=True)
    if run.returncode:
        return [{"kind": "cuda", "kernel": "mc_cuda.cu", "config": "", "arch": None,
                 "error": run.stderr.strip().splitlines()[-1] if run.stderr.strip() else "nvcc failed"}]
    parsed = parse_ptxas(run.stdout + run.stderr)
    names = _demangle([fn for fn, _ in parsed])
    rows = []
    for (fn, arch), res in parsed.items():
        full = names[fn]
        rows.append({"kind": "cuda", "kernel": short_name(full), "config": full, "arch": arch, **res})
    return rows


# ---- report -------------------------------------------------------------------------------------

def summary(rows):
    """One line per (kernel, arch): configurations, register range, worst spills, smem, stack."""
    groups = {}
    for r in rows:
        if "error" in r:
            continue
        key = (r["kind"], r["kernel"].split("<")[0] if r["kind"] == "cuda" else r["kernel"], r["arch"])
        groups.setdefault(key, []).append(r)
    lines = ["| kernel | arch | configurations | registers / thread | spill stores / loads (bytes) | "
             "shared memory (bytes) | stack frame (bytes) |", "|---|---|---:|---:|---:|---:|---:|"]
    for (kind, kernel, arch), rs in groups.items():
        regs = sorted({r["registers"] for r in rs})
        reg = f"{regs[0]}" if len(regs) == 1 else f"{regs[0]}-{regs[-1]}"
        spill = f"{max(r['spill_stores'] for r in rs)} / {max(r['spill_loads'] for r in rs)}"
        lines.append(f"| {kernel} ({kind}) | sm_{arch} | {len(rs)} | {reg} | {spill} | "
                     f"{max(r['smem'] for r in rs)} | {max(r['stack'] for r in rs)} |")
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", type=int, nargs="+", default=list(ARCHS), help="SM architectures (default 80 90)")
    p.add_argument("--triton", action="store_true", help="only the Triton kernels")
    p.add_argument("--cuda", action="store_true", help="only the CUDA kernels of vrnfast._cuda")
    p.add_argument("--json", help="write every row (one per kernel, configuration and arch) here")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="compile processes")
    args = p.parse_args(argv)
    both = not (args.triton or args.cuda)
    rows = []
    if args.triton or both:
        rows += triton_rows(args.arch, max(1, args.jobs))
    if args.cuda or both:
        rows += cuda_rows(args.arch)
    print("\n".join(summary(rows)))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    errors = [r for r in rows if "error" in r]
    spills = [r for r in rows if r.get("spill_stores") or r.get("spill_loads")]
    for r in errors:
        print(f"compile error: {r['kernel']} [{r['config']}] sm_{r['arch']}: {r['error']}", file=sys.stderr)
    for r in spills:
        print(f"spill: {r['kernel']} [{r['config']}] sm_{r['arch']}: {r['spill_stores']} bytes stored, "
              f"{r['spill_loads']} loaded", file=sys.stderr)
    return 1 if errors or spills else 0


if __name__ == "__main__":
    sys.exit(main())
