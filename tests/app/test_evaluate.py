"""Evaluation: the paper's NME protocol on a checkpoint, the JSON of DESIGN.md and the CED plot."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from vrnfast import metrics
from vrnfast.cli import main
from vrnfast.evaluation.protocol import (YAW_BINS, evaluate, front_depth, landmarks_from_heatmaps, summarise,
                              surface_points, yaw_bin)
from vrnfast.reconstruction.reconstructor import Reconstructor
from vrnfast.training.trainer import TrainConfig, Trainer, heatmaps


@pytest.fixture(scope="module")
def result(tiny_checkpoint):
    return evaluate(tiny_checkpoint, "synthetic", n=6, batch_size=4, progress=False)


def test_result_holds_design_fields_and_they_agree_with_the_rows(result):
    for key in ("n", "iou_mean", "nme_mean", "nme_median", "baseline_iou_mean", "baseline_nme_mean"):
        assert key in result
    rows = result["samples"]
    assert result["n"] == len(rows) == 6 and result["n_failed"] == 0
    assert result["iou_mean"] == pytest.approx(np.mean([r["iou"] for r in rows]))
    assert result["nme_median"] == pytest.approx(np.median([r["nme"] for r in rows]))
    assert sum(b["n"] for b in result["yaw_bins"].values()) == 6
    assert list(result["yaw_bins"]) == [f"{lo}-{hi}" for lo, hi in YAW_BINS]
    for name, b in result["yaw_bins"].items():
        members = [r["nme"] for r in rows if yaw_bin(r["yaw"]) == name]
        assert b["n"] == len(members) and (b["nme_mean"] is None) == (not members)
        if members:
            assert b["nme_mean"] == pytest.approx(np.mean(members))
    assert all(0 <= r["iou"] <= 1 and r["nme"] > 0 for r in rows)
    json.dumps(result, allow_nan=False)  # strict JSON


def test_rows_are_the_metrics_of_the_reconstruction(tiny_checkpoint, result):
    """Recompute one face independently: the network's volume, IoU, and ICP-aligned NME on the
    ground-truth face surface."""
    from vrnfast.data import synthetic_sample
    from vrnfast.evaluation.protocol import TEST_SEED_OFFSET

    s = synthetic_sample(2, TEST_SEED_OFFSET, 64, 64, with_face=True)  # checkpoint seed 0
    row = result["samples"][2]
    assert row["name"] == s["name"] and row["yaw"] == pytest.approx(s["pose"][0])
    prob = Reconstructor(tiny_checkpoint, device="cpu").predict(torch.from_numpy(s["image"][None]))["volume"][0]
    gt_mask = s["volume"] > 0
    pred_mask = prob.numpy() > 0.5
    assert row["iou"] == pytest.approx((pred_mask & gt_mask).sum() / (pred_mask | gt_mask).sum())
    io = np.linalg.norm(s["landmarks"][36] - s["landmarks"][45])
    assert row["nme"] == pytest.approx(metrics.nme(surface_points(prob.numpy()), s["face_verts"], io))


def test_surface_points_are_xyz():
    vol = np.zeros((10, 12, 14), np.float32)
    vol[2:5, 3:9, 4:12] = 1  # d 2..4, h 3..8, w 4..11
    p = surface_points(vol)
    assert p[:, 0].min() == pytest.approx(3.5) and p[:, 0].max() == pytest.approx(11.5)  # x = w
    assert p[:, 1].min() == pytest.approx(2.5) and p[:, 1].max() == pytest.approx(8.5)   # y = h
    assert p[:, 2].min() == pytest.approx(1.5) and p[:, 2].max() == pytest.approx(4.5)   # z = d
    assert surface_points(np.zeros((4, 4, 4))).shape == (0, 3)


def test_landmarks_from_heatmaps_recover_the_drawn_points():
    g = torch.Generator().manual_seed(0)
    lm = torch.rand(2, 68, 3, generator=g) * 50 + 7  # image pixels of a 64 x 64 input
    maps = heatmaps(lm, 32)  # as training draws them: half resolution, sigma 1
    got = landmarks_from_heatmaps(maps)
    assert got.shape == (2, 68, 2)
    np.testing.assert_allclose(got, lm[..., :2].numpy(), atol=1e-3)  # exact for Gaussians


def test_front_depth():
    vol = np.zeros((9, 5, 6), np.float32)
    vol[4:, 1, 2] = 1
    vol[7:, 3, 5] = 0.9
    z = front_depth(vol, np.array([[2.2, 0.9], [4.6, 3.4], [0.0, 0.0]]))
    np.testing.assert_array_equal(z[:2], [4, 7])
    assert np.isnan(z[2])


def test_failed_predictions_are_counted_not_averaged():
    rows = [dict(name="a", yaw=10.0, iou=0.5, nme=0.05, baseline_iou=0.4, baseline_nme=0.08),
            dict(name="b", yaw=70.0, iou=0.0, nme=None, baseline_iou=0.3, baseline_nme=0.09),
            dict(name="c", yaw=-40.0, iou=0.6, nme=0.07, baseline_iou=0.4, baseline_nme=0.1)]
    s = summarise(rows)
    assert s["n"] == 3 and s["n_failed"] == 1
    assert s["nme_mean"] == pytest.approx(0.06) and s["nme_median"] == pytest.approx(0.07)  # failure ranks last
    assert s["yaw_bins"]["60-90"] == dict(n=1, nme_mean=None, baseline_nme_mean=0.09, iou_mean=0.0)
    assert s["yaw_bins"]["30-60"]["n"] == 1  # |yaw|
    assert [yaw_bin(y) for y in (0, 30, 30.5, -60, 60.01, 95)] == ["0-30", "0-30", "30-60", "30-60", "60-90", "60-90"]


def test_landmark_nmes_for_a_landmark_model(tmp_path):
    cfg = TrainConfig(out=str(tmp_path / "g"), model="multitask", epochs=1, epoch_size=8, val_size=2, workers=0)
    Trainer(cfg, progress=False).fit()
    r = evaluate(tmp_path / "g" / "last.pt", "synthetic", n=2, progress=False)
    assert r["model"] == "multitask"
    for key in ("landmarks_2d_nme", "landmarks_3d_nme"):
        assert all(np.isfinite(row[key]) and row[key] > 0 for row in r["samples"])
        assert r[f"{key}_mean"] == pytest.approx(np.mean([row[key] for row in r["samples"]]))


def test_command_line_writes_table_json_and_ced(tmp_path, tiny_checkpoint, capsys):
    main(["synth", "--n", "3", "--out", str(tmp_path / "ds"), "--seed", "11"])
    main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--data", str(tmp_path / "ds"),
          "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert "NME mean" in out and "baseline" in out and "NME yaw 0-30" in out
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["n"] == 3 and r["data"] == str(tmp_path / "ds")
    ced = np.asarray(Image.open(tmp_path / "r-ced.png"))
    assert ced.ndim == 3 and ced.shape[0] > 100 and ced.shape[1] > 100
    with pytest.raises(SystemExit, match="not a vrnfast dataset"):
        main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--data", str(tmp_path)])
    with pytest.raises(SystemExit, match="no such file"):
        main(["evaluate", "--checkpoint", str(tmp_path / "none.pt")])
    with pytest.raises(SystemExit, match="--n must be >= 1"):
        main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--n", "0"])


def test_outputs_in_new_folders(tmp_path, tiny_checkpoint, capsys):
    main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--n", "2", "--json", str(tmp_path / "a" / "r.json"),
          "--ced", str(tmp_path / "b" / "c.png"), "--html", str(tmp_path / "c" / "r.html")])
    assert all((tmp_path / p).is_file() for p in ("a/r.json", "b/c.png", "c/r.html"))


def test_ctrl_c_says_how_far_scoring_got_and_writes_nothing(tmp_path, tiny_checkpoint, monkeypatch, run_cli, sigint):
    import signal

    from vrnfast.evaluation import protocol as ev

    scored = []
    real = ev.score_sample

    def score(*args, **kwargs):
        scored.append(1)
        if len(scored) == 3:
            signal.raise_signal(signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(ev, "score_sample", score)
    code, err = run_cli(["evaluate", "--checkpoint", str(tiny_checkpoint), "--n", "8", "--json",
                         str(tmp_path / "r.json"), "--html", str(tmp_path / "r.html")])
    assert code == 130 and not any("Traceback" in line for line in err)
    assert err[-1] == ("vrnfast evaluate: interrupted; 2 faces scored; nothing written (the results are written "
                       "once every face is scored)")
    assert list(tmp_path.iterdir()) == []
