"""`vrnfast train --tensorboard`: event files in RUN/tensorboard with log.csv's numbers and a preview
per epoch, none without the flag or off rank 0, and a one-line error without the [tb] extra."""
import csv
import io
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from vrnfast.cli import main
from vrnfast.viz.render import caption_height
from vrnfast.training.trainer import (PREVIEW_SIZE, TENSORBOARD_HINT, TENSORBOARD_PREVIEW, TENSORBOARD_SCALARS,
                           TensorBoardUnavailable, Trainer)

from helpers import train_config

# tag -> log.csv column, written out here so that a renamed tag fails the test
SCALARS = {"loss/train": "train_loss", "loss/val": "val_loss", "iou/val": "val_iou", "iou/baseline": "baseline_iou",
           "lr": "lr", "samples_per_s": "samples_per_s"}


def needs_tensorboard():
    return pytest.importorskip("tensorboard", reason="the [tb] extra is not installed: pip install 'vrnfast[tb]'")


def config(tmp_path, name="run", **kw):
    return train_config(tmp_path, name, **{"lr_drop_epoch": 1, "tensorboard": True, **kw})


def events(run):
    from tensorboard.backend.event_processing import event_accumulator as ea

    acc = ea.EventAccumulator(str(run / "tensorboard"), size_guidance={
        k: 0 for k in (ea.COMPRESSED_HISTOGRAMS, ea.IMAGES, ea.AUDIO, ea.SCALARS, ea.HISTOGRAMS, ea.TENSORS)})
    acc.Reload()
    return acc


def log_rows(run):
    with open(run / "log.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_scalars_and_previews_match_the_run(tmp_path):
    needs_tensorboard()
    t = Trainer(config(tmp_path), progress=False)
    history = t.fit()
    run = tmp_path / "run"
    assert t.tensorboard is None  # closed
    acc = events(run)
    assert TENSORBOARD_SCALARS == SCALARS
    assert set(acc.Tags()["scalars"]) == set(SCALARS)
    rows = log_rows(run)
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    for tag, key in SCALARS.items():
        got = acc.Scalars(tag)
        assert [e.step for e in got] == [1, 2], tag  # one value per epoch
        assert [e.value for e in got] == pytest.approx([float(r[key]) for r in rows], rel=1e-5), tag
        assert [e.value for e in got] == pytest.approx([h[key] for h in history], rel=1e-6), tag
    assert [e.value for e in acc.Scalars("lr")] == pytest.approx([1e-3, 1e-4])  # dropped after epoch 1

    assert acc.Tags()["images"] == [TENSORBOARD_PREVIEW]
    images = acc.Images(TENSORBOARD_PREVIEW)
    assert [e.step for e in images] == [1, 2]
    preview = t.preview()  # the model as it was after the last epoch: the last image, pixel for pixel
    labelled = PREVIEW_SIZE + caption_height(PREVIEW_SIZE)  # the panels' names under them
    assert preview.shape == (labelled, 3 * PREVIEW_SIZE, 3) and preview.dtype == np.uint8
    for e in images:
        assert (e.height, e.width) == preview.shape[:2]
        decoded = np.asarray(Image.open(io.BytesIO(e.encoded_image_string)).convert("RGB"))
        assert decoded.shape == preview.shape
    np.testing.assert_array_equal(decoded, preview)
    assert t.module.training  # preview() gave the model back in training mode

    from vrnfast.viz.plot import LR_DROP_GID, training_figure  # loss.png marks the same lr drop

    (marker,) = [line for line in training_figure(history).axes[0].get_lines() if line.get_gid() == LR_DROP_GID]
    assert list(marker.get_xdata()) == [1, 1]


def test_a_resumed_run_continues_the_curves(tmp_path):
    needs_tensorboard()
    Trainer(config(tmp_path, epochs=1), progress=False).fit()
    Trainer(config(tmp_path, epochs=2), resume=True, progress=False).fit()
    acc = events(tmp_path / "run")
    rows = log_rows(tmp_path / "run")
    for tag, key in SCALARS.items():
        got = acc.Scalars(tag)
        assert [e.step for e in got] == [1, 2], tag
        assert [e.value for e in got] == pytest.approx([float(r[key]) for r in rows], rel=1e-5), tag
    assert [e.step for e in acc.Images(TENSORBOARD_PREVIEW)] == [1, 2]


def test_no_event_files_without_the_flag(tmp_path):
    Trainer(config(tmp_path, epochs=1, epoch_size=8, tensorboard=False), progress=False).fit()
    run = tmp_path / "run"
    assert (run / "log.csv").is_file()
    assert not (run / "tensorboard").exists() and list(run.rglob("*tfevents*")) == []


@pytest.mark.slow  # torchrun, 2 CPU processes (gloo)
def test_only_rank_0_writes_events_under_ddp(tmp_path):
    needs_tensorboard()
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "vrnfast", "train", "--out", str(out), "--epochs", "2", "--epoch-size", "32",
                           "--workers", "0", "--device", "cpu", "--tensorboard"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert len(list(out.rglob("*tfevents*"))) == 1  # one writer: rank 0's
    acc = events(out)
    rows = log_rows(out)
    for tag, key in SCALARS.items():
        got = acc.Scalars(tag)
        assert [e.step for e in got] == [1, 2], tag
        assert [e.value for e in got] == pytest.approx([float(r[key]) for r in rows], rel=1e-5), tag
    assert [e.step for e in acc.Images(TENSORBOARD_PREVIEW)] == [1, 2]


def test_without_the_extra_train_fails_first_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails as if not installed
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(["train", "--tensorboard", "--out", str(out), "--epochs", "1", "--epoch-size", "8",
              "--workers", "0", "--device", "cpu"])
    message = str(exc.value.code)
    assert message == ("vrnfast train: TensorBoard logging (--tensorboard) needs the tensorboard package: "
                       f"{TENSORBOARD_HINT}")
    assert "pip install 'vrnfast[tb]'" in message and "\n" not in message
    assert not out.exists()  # nothing started: no run directory
    with pytest.raises(TensorBoardUnavailable, match=r"vrnfast\[tb\]"):  # the API's error, an ImportError
        Trainer(config(tmp_path), progress=False)
    assert issubclass(TensorBoardUnavailable, ImportError)


def test_the_flag_reaches_the_config():
    from vrnfast.cli import build_parser
    from vrnfast.training.trainer import config_from_args

    assert config_from_args(build_parser().parse_args(["train", "--tensorboard"])).tensorboard is True
    assert config_from_args(build_parser().parse_args(["train"])).tensorboard is False
