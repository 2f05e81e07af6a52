"""The GPU check: everything only a GPU can show, in one command that fits 8 minutes on an H100/H200.

    python tools/gpu_check.py [--steps build,env,tests,ceilings,bench,train] [--out DIR]
    python tools/gpu_check.py --dry-run          # the same plumbing on a CPU machine, small sizes

Steps, each in a subprocess with its own time limit (so one hung kernel cannot eat the machine's
time), each result written to the JSON as soon as it is known:
  build     pip install --no-build-isolation --no-deps -e . with VRNFAST_CUDA=1 (no registry needed)
  env       device, driver, CUDA, torch and triton versions; vrnfast._cuda loads and Triton sees
            the GPU (or why not)
  tests     pytest -m "cuda and not slow": any CUDA test skipped on a GPU machine is a failure
  ceilings  device-to-device copy bandwidth of a 1 GiB buffer; a bf16 matmul's TFLOP/s
  bench     the benchmarks' CUDA cases on paper-size inputs (marching cubes, sigmoid BCE, warp,
            the paper-preset training step, reconstruct), each with its GB/s against the copy
  train     a short paper-preset training run on synthetic faces, with its loss curve
Writes DIR/<gpu>-<date>.json (default benchmarks/results/) and prints the README's GPU tables.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# seconds per step on the GPU machine: 440 s in all, inside the 8 minutes with the machine's start
BUDGET = {"build": 75, "env": 20, "tests": 120, "ceilings": 15, "bench": 150, "train": 60}
STEPS = tuple(BUDGET)
ALLOWED_SKIPS = ("needs two CUDA devices", "cupy")  # what a one-GPU machine without CuPy cannot run


def run(cmd, timeout, env=None, cwd=ROOT):
    """(return code, seconds, output tail); 124 on a timeout."""
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True,
                           timeout=timeout)
        rc, out = p.returncode, p.stdout + p.stderr
    except subprocess.TimeoutExpired as e:
        rc, out = 124, f"timed out after {timeout} s\n" + ((e.stdout or b"").decode(errors="replace")
                                                           if isinstance(e.stdout, bytes) else (e.stdout or ""))
    return rc, round(time.perf_counter() - t0, 1), out[-6000:]


def python(code, timeout, env=None):
    """Runs a snippet that prints one JSON object last; (rc, seconds, parsed or None, tail)."""
    rc, secs, out = run([sys.executable, "-c", code], timeout, env)
    lines = [l for l in out.strip().splitlines() if l.startswith("{")]
    try:
        return rc, secs, json.loads(lines[-1]) if lines else None, out
    except json.JSONDecodeError:
        return rc, secs, None, out


ENV_PROBE = r"""
import json, platform
import torch
out = {"python": platform.python_version(), "torch": torch.__version__, "cuda_available": torch.cuda.is_available(),
       "torch_cuda": torch.version.cuda}
try:
    import triton
    out["triton"] = triton.__version__
except ImportError:
    out["triton"] = None
if torch.cuda.is_available():
    p = torch.cuda.get_device_properties(0)
    out.update(device=p.name, capability=f"{p.major}.{p.minor}", memory_gib=round(p.total_memory / 2**30, 1),
               sms=p.multi_processor_count, devices=torch.cuda.device_count())
    try:
        import subprocess
        out["driver"] = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                       capture_output=True, text=True).stdout.strip()
    except OSError:
        out["driver"] = None
    try:
        from triton.runtime import driver
        t = driver.active.get_current_target()
        out["triton_target"] = f"{t.backend} {t.arch}"
    except Exception as e:
        out["triton_target"] = f"error: {e}"
from vrnfast import _backend
try:
    ext = _backend.cuda_ext()
    out["vrnfast_cuda"] = f"loads (built with CUDA runtime {ext.cuda_runtime_version})"
except RuntimeError as e:
    out["vrnfast_cuda"] = f"cannot run: {e}"
print(json.dumps(out))
"""

CEILINGS = r"""
import json, os, time, torch
dry = os.environ.get("GPU_CHECK_DRY") == "1"
dev = "cpu" if dry else "cuda"
def best(fn, n):
    t = float("inf")
    for _ in range(n):
        if dev == "cuda": torch.cuda.synchronize()
        t0 = time.perf_counter(); fn()
        if dev == "cuda": torch.cuda.synchronize()
        t = min(t, time.perf_counter() - t0)
    return t
size = (64 << 20) if dry else (1 << 30)
src = torch.empty(size, dtype=torch.uint8, device=dev); dst = torch.empty_like(src)
copy = best(lambda: dst.copy_(src), 10)
n = 256 if dry else 8192
dtype = torch.float32 if dry else torch.bfloat16
a = torch.randn(n, n, device=dev, dtype=dtype); b = torch.randn(n, n, device=dev, dtype=dtype)
mm = best(lambda: a @ b, 10)
print(json.dumps({"copy_bytes": size, "copy_GBps": round(2 * size / copy / 1e9, 1), "matmul_n": n,
                  "matmul_dtype": str(dtype)[6:], "matmul_TFLOPs": round(2 * n**3 / mm / 1e12, 2)}))
"""


def step_build(ctx):
    if ctx.dry_run:
        return {"ok": True, "note": "dry run: the installed build is used"}
    rc, secs, out = run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "-e", "."],
                        BUDGET["build"], env={"VRNFAST_CUDA": "1"})
    return {"ok": rc == 0, "seconds": secs, **({} if rc == 0 else {"output": out})}


def step_env(ctx):
    rc, secs, info, out = python(ENV_PROBE, BUDGET["env"])
    if info is None:
        return {"ok": False, "seconds": secs, "output": out}
    ctx.device = info.get("device") or "cpu"
    ok = ctx.dry_run or (info["cuda_available"] and info["vrnfast_cuda"].startswith("loads")
                         and not str(info.get("triton_target", "")).startswith("error"))
    return {"ok": bool(ok), "seconds": secs, **info}


def step_tests(ctx):
    junit = Path(ctx.tmp) / "cuda-tests.xml"
    select = ["tests/ops/test_cuda.py", "-k", "bce"] if ctx.dry_run else []
    rc, secs, out = run([sys.executable, "-m", "pytest", *select, "-m", "cuda and not slow", "-q", "-rs",
                         "-p", "no:cacheprovider", f"--junitxml={junit}"], BUDGET["tests"])
    counts, skipped = _junit(junit)
    bad_skips = [] if ctx.dry_run else [s for s in skipped if not any(a in s for a in ALLOWED_SKIPS)]
    ok = rc == 0 and not bad_skips and counts.get("tests", 0) > 0
    return {"ok": ok, "seconds": secs, **counts, "skipped_reasons": sorted(set(skipped))[:20],
            "failed_by_skip": bad_skips[:20], **({} if ok else {"output": out})}


def _junit(path):
    import xml.etree.ElementTree as ET

    if not path.exists():
        return {}, []
    root = ET.parse(path).getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    counts = {k: int(suite.get(k, 0)) for k in ("tests", "failures", "errors", "skipped")}
    skipped = [s.get("message", "") for s in suite.iter("skipped")]
    return counts, skipped


def step_ceilings(ctx):
    rc, secs, info, out = python(CEILINGS, BUDGET["ceilings"], env={"GPU_CHECK_DRY": "1" if ctx.dry_run else "0"})
    ctx.copy_gbps = (info or {}).get("copy_GBps")
    return {"ok": rc == 0 and info is not None, "seconds": secs, **(info or {"output": out})}


def step_bench(ctx):
    out_json = Path(ctx.tmp) / "bench.json"
    env = {"VRNFAST_BENCH_SMALL": "1"} if ctx.dry_run else {}
    # on the GPU every CUDA case; dry, one small CPU group
    target = (["benchmarks/test_sigmoid_bce.py", "-k", "B2 and cpu and (vrnfast or eager)"] if ctx.dry_run
              else ["benchmarks/", "-k", "cuda"])
    rc, secs, out = run([sys.executable, "-m", "pytest", *target, "--benchmark-only", f"--benchmark-json={out_json}",
                         "-q", "-p", "no:cacheprovider"], BUDGET["bench"], env=env)
    if not out_json.exists():
        return {"ok": False, "seconds": secs, "output": out}
    data = json.loads(out_json.read_text())
    rows = []
    for b in data["benchmarks"]:
        e, median = b["extra_info"], b["stats"]["median"]
        gbps = e["bytes_moved"] / median / 1e9 if e.get("bytes_moved") else None
        rows.append({"group": b["group"], "impl": e.get("impl", b["name"]), "median_ms": round(median * 1e3, 4),
                     "GBps": round(gbps, 1) if gbps else None,
                     "of_copy": round(gbps / ctx.copy_gbps, 3) if gbps and ctx.copy_gbps else None})
    ctx.bench = data
    return {"ok": rc == 0, "seconds": secs, "rows": rows, **({} if rc == 0 else {"output": out})}


def step_train(ctx):
    run_dir = Path(ctx.tmp) / "train"
    args = (["--preset", "tiny", "--epochs", "2", "--epoch-size", "16", "--val-size", "8", "--workers", "0"]
            if ctx.dry_run else ["--preset", "paper", "--epochs", "4", "--epoch-size", "400", "--batch-size", "8",
                                 "--val-size", "16", "--workers", str(min(8, os.cpu_count() or 1))])
    rc, secs, out = run([sys.executable, "-m", "vrnfast", "train", *args, "--out", str(run_dir)], BUDGET["train"],
                        env={"TQDM_DISABLE": "1"})
    log = run_dir / "log.csv"
    if not log.exists():
        return {"ok": False, "seconds": secs, "output": out}
    import csv

    curve = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(open(log))]
    falling = len(curve) < 2 or curve[-1]["train_loss"] < curve[0]["train_loss"]
    return {"ok": rc == 0 and falling, "seconds": secs, "loss_curve": curve,
            **({} if rc == 0 else {"output": out})}


class Context:
    def __init__(self, dry_run, tmp):
        self.dry_run, self.tmp = dry_run, tmp
        self.device, self.copy_gbps, self.bench = "cpu", None, None


def gpu_tables(result, bench):
    """The README's GPU section: the ceilings, then each benchmark group as bench_table renders it,
    with GB/s as a share of the measured copy bandwidth."""
    lines = []
    c = result["steps"].get("ceilings", {})
    if c.get("copy_GBps"):
        lines.append(f"Copy bandwidth (device to device, {c['copy_bytes'] >> 20} MiB): {c['copy_GBps']} GB/s; "
                     f"{c['matmul_dtype']} matmul {c['matmul_n']}^3: {c['matmul_TFLOPs']} TFLOP/s.")
    rows = result["steps"].get("bench", {}).get("rows", [])
    shares = [f"- {r['group']}, {r['impl']}: {r['median_ms']} ms, {r['GBps']} GB/s = {100 * r['of_copy']:.0f}% of the copy"
              for r in rows if r.get("of_copy")]
    if bench is not None:
        sys.path.insert(0, str(ROOT / "tools"))
        import bench_table

        lines += [""] + bench_table.tables(bench)
    return lines + ([""] + shares if shares else [])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated, of {', '.join(STEPS)}")
    p.add_argument("--dry-run", action="store_true", help="the same plumbing on a CPU machine, small sizes")
    p.add_argument("--out", help="folder of the results JSON (default benchmarks/results; a temporary one for --dry-run)")
    args = p.parse_args(argv)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        p.error(f"unknown steps {unknown}; choose from {', '.join(STEPS)}")
    tmp = tempfile.mkdtemp(prefix="gpu-check-")
    out_dir = Path(args.out) if args.out else (Path(tmp) if args.dry_run else ROOT / "benchmarks" / "results")
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(args.dry_run, tmp)
    result = {"date": datetime.date.today().isoformat(), "dry_run": args.dry_run, "budget_s": BUDGET, "steps": {}}
    path = out_dir / f"gpu-check-{result['date']}.json"  # until env names the device
    for name in steps if "env" in steps else ["env", *steps]:
        print(f"[gpu_check] {name} (limit {BUDGET[name]} s) ...", flush=True)
        res = globals()[f"step_{name}"](ctx)
        result["steps"][name] = res
        if name == "env":
            result["device"] = ctx.device
            slug = re.sub(r"[^a-z0-9]+", "-", ctx.device.lower()).strip("-")
            named = out_dir / f"{slug}-{result['date']}.json"
            if path.exists():
                path.replace(named)
            path = named
        print(f"[gpu_check] {name}: {'ok' if res['ok'] else 'FAILED'} ({res.get('seconds', 0)} s)", flush=True)
        if not res["ok"] and "output" in res:
            print(res["output"][-3000:], flush=True)
        path.write_text(json.dumps(result, indent=1))  # as soon as each step is known
        if name in ("build", "env") and not res["ok"]:
            break  # nothing else can run
    print("\n".join(gpu_tables(result, ctx.bench)))
    print(f"[gpu_check] results: {path}")
    return 0 if all(r["ok"] for r in result["steps"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
