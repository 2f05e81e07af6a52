"""What the installed package declares: its licence (LICENSE, BSD-3-Clause, and the vendored
viewer's own licences) and the Python it needs. CI also builds the sdist and a wheel and uses the
wheel from a fresh venv (.ci/run)."""
from importlib.metadata import distribution
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_licence_is_declared_and_shipped():
    meta = distribution("vrnfast").metadata
    assert meta["License-Expression"] == "BSD-3-Clause AND Apache-2.0 AND MIT"
    assert set(meta.get_all("License-File")) == {"LICENSE", "vrnfast/viz/viewer/LICENSE-bundled",
                                                 "vrnfast/viz/viewer/LICENSE-model-viewer"}
    assert (ROOT / "LICENSE").read_text().startswith("BSD 3-Clause License")
    assert meta["Requires-Python"] == ">=3.10"
    assert any(c.startswith("Programming Language :: Python :: 3") for c in meta.get_all("Classifier"))
