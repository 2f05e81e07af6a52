"""The on-disk dataset: `vrnfast synth` writes it, FaceDataset reads it back; bad files."""
import json

import numpy as np
import pytest

from vrnfast.cli import main
from vrnfast.data import DatasetError, FaceDataset, synthetic_sample


@pytest.fixture
def dataset(tmp_path):
    main(["synth", "--n", "4", "--out", str(tmp_path / "ds"), "--seed", "5"])
    return tmp_path / "ds"


def test_round_trip(dataset):
    ds = FaceDataset(dataset)
    assert len(ds) == 4 and ds.image_size == 64 and ds.depth == 64
    for i in range(4):
        got, want = ds[i], synthetic_sample(i, 5, 64, 64, with_face=True)
        assert got["name"] == want["name"]
        for key in ("image", "volume", "landmarks", "pose", "face_verts"):
            assert np.array_equal(got[key], want[key]) and got[key].dtype == want[key].dtype
    assert ds[-1]["name"] == ds[3]["name"]
    with pytest.raises(IndexError):
        ds[4]
    # compressed: bit-packed volumes, a small fraction of the raw bytes
    size = sum(f.stat().st_size for f in dataset.glob("*.npz"))
    assert size < 4 * (64 * 64 * 64 + 3 * 64 * 64) / 4


def test_corrupt_and_missing_files_are_named_and_skipped(dataset):
    files = sorted(dataset.glob("*.npz"))
    files[1].write_bytes(b"not a zip file")
    files[2].unlink()
    ds = FaceDataset(dataset)
    with pytest.warns(RuntimeWarning) as caught:
        s = ds[1]
    assert s["name"] == files[3].stem  # 1 and 2 unreadable: the next readable one
    messages = [str(w.message) for w in caught]
    assert any("corrupt sample file" in m and files[1].name in m for m in messages)
    assert any("missing sample file" in m and files[2].name in m for m in messages)
    assert ds.bad == {1, 2}
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # each bad file is reported once, not on every access
        assert ds[2]["name"] == files[3].stem
    with pytest.raises(DatasetError, match=files[1].name):
        FaceDataset(dataset, strict=True)[1]


def test_bad_directories(tmp_path, dataset):
    with pytest.raises(DatasetError, match="no index.json"):
        FaceDataset(tmp_path)
    (dataset / "index.json").write_text("{")
    with pytest.raises(DatasetError, match="corrupt"):
        FaceDataset(dataset)
    (dataset / "index.json").write_text(json.dumps({"format": "other", "version": 1}))
    with pytest.raises(DatasetError, match="not a vrnfast-faces v1 index"):
        FaceDataset(dataset)
    with pytest.raises(SystemExit, match="--n must be"):
        main(["synth", "--n", "0", "--out", str(tmp_path / "x")])
