"""The package's layers (pyproject.toml's import-linter contracts): each imports only downward,
nothing below the command line imports it, the foundations never import the application, and no
module or subpackage imports its way back to itself; imports inside functions count."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_are_kept():
    pytest.importorskip("importlinter", reason="the layer checks need import-linter: pip install -e '.[test]'")
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    run = subprocess.run([exe, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "Contracts: 4 kept, 0 broken." in run.stdout
