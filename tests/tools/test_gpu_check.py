"""tools/gpu_check.py --dry-run: the GPU check's plumbing (steps, limits, results JSON, tables) on
the CPU, so that it cannot rot while no GPU is at hand."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "gpu_check.py"
pytestmark = pytest.mark.skipif(not TOOL.exists(), reason="needs tools/ of a clone")


def _run(*args, cwd):
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_dry_run_runs_every_step_and_writes_the_results(tmp_path):
    pytest.importorskip("pytest_benchmark")
    run = _run("--dry-run", "--out", str(tmp_path), cwd=tmp_path)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    (path,) = tmp_path.glob("*.json")
    result = json.loads(path.read_text())
    assert result["dry_run"] and list(result["steps"]) == ["build", "env", "tests", "ceilings", "bench", "train"]
    assert all(step["ok"] for step in result["steps"].values())
    assert result["steps"]["tests"]["tests"] > 0  # collected and skipped here, without a GPU
    assert result["steps"]["ceilings"]["copy_GBps"] > 0 and result["steps"]["ceilings"]["matmul_TFLOPs"] > 0
    rows = result["steps"]["bench"]["rows"]
    assert rows and all(r["median_ms"] > 0 for r in rows) and all(0 < r["of_copy"] for r in rows if r["GBps"])
    curve = result["steps"]["train"]["loss_curve"]
    assert [r["epoch"] for r in curve] == [1, 2]
    assert "| implementation |" in run.stdout and "% of the copy" in run.stdout


def test_steps_are_chosen_by_name(tmp_path):
    run = _run("--dry-run", "--out", str(tmp_path), "--steps", "ceilings", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    (path,) = tmp_path.glob("*.json")
    assert list(json.loads(path.read_text())["steps"]) == ["env", "ceilings"]  # env names the file
    bad = _run("--dry-run", "--steps", "ceilings,warp", cwd=tmp_path)
    assert bad.returncode == 2 and "unknown steps ['warp']" in bad.stderr
