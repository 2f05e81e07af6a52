"""Real data the tests read where it is at hand. One 300W-LP sample (IBUG_image_008_1_0.jpg and its
.mat, as the release distributes them) is not redistributable under vrnfast's licence (300W-LP is
for non-commercial research), so it is not in the repository: VRNFAST_300WLP_SAMPLE names a
folder holding the pair; without it, a folder beside the checkout's where the project keeps one
is tried, and the tests that need it skip, saying so."""
import os
from pathlib import Path

import pytest

WLP_NAME = "IBUG_image_008_1_0"
WLP_SAMPLE = Path(os.environ.get("VRNFAST_300WLP_SAMPLE")
                  or Path(__file__).resolve().parents[2] / "shared" / "data" / "300w_lp_sample" / "IBUG")
HAVE_WLP_SAMPLE = (WLP_SAMPLE / f"{WLP_NAME}.jpg").is_file() and (WLP_SAMPLE / f"{WLP_NAME}.mat").is_file()
WLP_SKIP = (f"needs one real 300W-LP sample ({WLP_NAME}.jpg and .mat, not redistributable with vrnfast): "
            "set VRNFAST_300WLP_SAMPLE to the folder holding them")
needs_wlp_sample = pytest.mark.skipif(not HAVE_WLP_SAMPLE, reason=WLP_SKIP)
