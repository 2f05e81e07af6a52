"""The README's benchmark tables: tools/bench_table.py, and the end of `pytest benchmarks/` printing them."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bench_table():
    spec = importlib.util.spec_from_file_location("bench_table", ROOT / "tools" / "bench_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _bench(impl, median_s, group="sigmoid_bce B2 cpu"):
    return {"group": group, "name": f"test[{impl}]", "stats": {"median": median_s, "min": median_s * 0.9},
            "extra_info": {"impl": impl, "threads": 2, "shape": [2, 200, 192, 192], "note": "forward + backward",
                           "bytes_moved": 4e8, "target_dtype": "uint8", "peak_extra_MB": 0.0}}


def test_tables_rank_by_median_with_ratios_against_vrnfast():
    data = {"machine_info": {"cpu": {"brand_raw": "Test CPU", "count": 2}, "python_version": "3.11.7",
                             "versions": {"torch": "2.13.0"}},
            "datetime": "2026-12-01T10:00:00", "benchmarks": [_bench("torch eager", 0.030), _bench("vrnfast", 0.010),
                                                                _bench("vrnfast inplace", 0.004)]}
    lines = _bench_table().tables(data)
    assert lines[0] == "Machine: Test CPU, 2 cores; Python 3.11.7; torch 2.13.0; 2026-12-01"
    rows = [line for line in lines if line.startswith("| ") and "implementation" not in line]
    assert [r.split(" | ")[0] for r in rows] == ["| vrnfast inplace", "| vrnfast", "| torch eager"]
    assert [r.split(" | ")[4] for r in rows] == ["2.50x faster", "baseline", "3.00x slower"]
    assert rows[1].split(" | ")[2:4] == ["10.00", "9.00"]  # median and min, ms
    assert rows[1].split(" | ")[6] == "40.0"  # GB/s: 4e8 bytes in 10 ms


@pytest.mark.skipif(not (ROOT / "benchmarks" / "conftest.py").exists(), reason="needs the benchmarks of a clone")
def test_benchmark_run_ends_with_the_compact_tables(tmp_path):
    pytest.importorskip("pytest_benchmark")
    env = dict(os.environ, VRNFAST_BENCH_SMALL="1")
    run = subprocess.run([sys.executable, "-m", "pytest", str(ROOT / "benchmarks" / "test_marching_cubes.py"),
                          "-k", "face_u8 and (vrnfast_cpp or skimage_lorensen)", "--benchmark-only",
                          "-p", "no:cacheprovider", "-q"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout
    summary = out[out.index("vrnfast against its references"):]
    assert "### face_u8: uint8 50x48x48" in summary
    rows = {line.split(" | ")[0][2:]: line.split(" | ")[4] for line in summary.splitlines() if line.startswith("| ")
            and "implementation" not in line}
    assert rows["vrnfast cpp"] == "baseline" and rows["skimage lorensen"].endswith(("faster", "slower"))
    assert "3 benchmarks in" in summary
