"""Training: outputs, bit-exact resume (also after an interrupt), worker independence, overfitting
a handful of samples, fused vs reference loss, all three models, and the command line."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from vrnfast.cli import main
from vrnfast.training.trainer import LOG_FIELDS, Trainer, load_checkpoint

from helpers import train_config


config = train_config  # pinned to the CPU: these tests compare runs bit for bit


def quiet(cfg, resume=False):
    return Trainer(cfg, resume=resume, progress=False)


def same_weights(a, b):
    sa, sb = a.model.state_dict(), b.model.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_run_directory_holds_what_design_lists(tmp_path):
    cfg = config(tmp_path)
    t = quiet(cfg)
    history = t.fit()
    out = tmp_path / "run"
    assert sorted(p.name for p in out.iterdir()) == ["best.pt", "config.json", "last.pt", "log.csv", "loss.png"]
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert list(rows[0].keys()) == LOG_FIELDS and [int(r["epoch"]) for r in rows] == [1, 2]
    assert [float(r["val_iou"]) for r in rows] == pytest.approx([h["val_iou"] for h in history], rel=1e-5)
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "config.json").read_text())["lr"] == cfg.lr == 1e-3  # the tiny preset's
    ck = torch.load(out / "last.pt", weights_only=True)
    assert ck["epoch"] == 2 and ck["model_name"] == "vrn" and set(ck["model"]) == set(t.model.state_dict())
    best = torch.load(out / "best.pt", weights_only=True)
    assert best["epoch"] == max(history, key=lambda r: r["val_iou"])["epoch"]


def test_closing_line_names_best_pt_epoch_when_it_is_not_the_last(tmp_path):
    t = quiet(config(tmp_path))
    row = dict(epoch=1, step=2, lr=1e-3, train_loss=0.5, val_loss=0.5, baseline_iou=0.4, samples_per_s=1.0)
    t.history = [dict(row, val_iou=0.8), dict(row, epoch=2, val_iou=0.7), dict(row, epoch=3, val_iou=0.8)]
    assert t.summary().startswith("done: epoch 3 val IoU 0.800; best.pt is epoch 1's, val IoU 0.800 "
                                  "(mean-shape baseline 0.400)")
    t.history[2]["val_iou"] = 0.9
    assert t.summary().startswith("done: epoch 3 val IoU 0.900 (mean-shape baseline 0.400); checkpoints in")


def test_resume_continues_bit_for_bit(tmp_path):
    straight = quiet(config(tmp_path, "a"))
    straight.fit()
    first = quiet(config(tmp_path, "b", epochs=1))
    first.fit()
    resumed = quiet(config(tmp_path, "b", epochs=2), resume=True)
    resumed.fit()
    assert same_weights(straight, resumed)
    untimed = lambda h: [{k: v for k, v in row.items() if k != "samples_per_s"} for row in h]
    assert untimed(straight.history) == untimed(resumed.history)


def test_interrupt_saves_and_resume_continues_bit_for_bit(tmp_path):
    straight = quiet(config(tmp_path, "a", epoch_size=32))
    straight.fit()
    stopped = quiet(config(tmp_path, "b", epoch_size=32))
    stopped.on_step = lambda t: t.step == 3 and t.request_stop()  # mid-epoch: 4 batches per epoch
    stopped.fit()
    ck = load_checkpoint(tmp_path / "b" / "last.pt")
    assert (ck["epoch"], ck["batch_in_epoch"], ck["step"]) == (0, 3, 3)
    resumed = quiet(config(tmp_path, "b", epoch_size=32), resume=True)
    resumed.fit()
    assert same_weights(straight, resumed)


def test_results_do_not_depend_on_workers(tmp_path):
    a = quiet(config(tmp_path, "a", epochs=1, workers=0))
    a.fit()
    b = quiet(config(tmp_path, "b", epochs=1, workers=2))
    b.fit()
    assert same_weights(a, b)


@pytest.mark.slow  # 120 steps, 40 s on 2 cores; the default tier's tiny_checkpoint checks learning too
def test_overfits_a_handful_of_samples(tmp_path):
    """Four fixed faces (a dataset directory), no augmentation, a constant step: the tiny model
    must learn them, past even the mean of these same four targets."""
    main(["synth", "--n", "4", "--out", str(tmp_path / "four")])
    cfg = config(tmp_path, data=str(tmp_path / "four"), epochs=120, batch_size=4, val_size=4, augment=False,
                 lr=2e-3, lr_drop_epoch=1000)
    history = quiet(cfg).fit()  # validation runs on the same four faces
    assert history[-1]["train_loss"] < history[0]["train_loss"] / 5
    assert history[-1]["val_iou"] > max(0.65, history[-1]["baseline_iou"])


def test_fused_and_reference_losses_agree(tmp_path):
    losses = {}
    for reference in (False, True):
        t = quiet(config(tmp_path, f"r{reference}", epochs=1, reference=reference))
        t.on_step = lambda tr: tr.request_stop()
        t.fit()
        losses[reference] = t.last_loss
    assert losses[False] == pytest.approx(losses[True], rel=1e-5)


def test_augmentation_on_the_device_equals_augmentation_in_workers(tmp_path):
    """augment_on="device" hands raw samples and their parameters to the loop, which augments the
    batch after the transfer (Triton on CUDA, C++ here): the same training either way."""
    a = quiet(config(tmp_path, "a", epochs=1, augment_on="workers"))
    a.fit()
    b = quiet(config(tmp_path, "b", epochs=1, augment_on="device"))
    assert b.augment_on == "device" and b.train_set[0][3]  # raw sample + its parameters
    b.fit()
    assert same_weights(a, b)


@pytest.mark.triton
def test_device_batch_augmented_by_triton_equals_cpp(tmp_path):
    """The CUDA path's device augmentation (Triton, interpreted here) on a collated batch."""
    t = quiet(config(tmp_path, batch_size=1, augment_on="device"))
    batch = torch.utils.data.default_collate([t.train_set[3]])  # one sample: the interpreter is slow
    cpp = t.to_device(*batch)
    t.train_set.backend = "triton"
    triton = t.to_device(*batch)
    # Triton maps coordinates in float32, C++ in float64: a few ties round the other way
    assert (cpp[0] - triton[0]).abs().max() <= 1 / 127.5 + 1e-6  # one uint8 level, normalised
    assert (cpp[1] != triton[1]).float().mean() < 1e-3 and cpp[1].dtype == triton[1].dtype == torch.uint8
    assert torch.equal(cpp[2], triton[2])


def test_reference_augmentation_matches_the_fused_one(tmp_path):
    """--reference augments with grid_sample: the same samples up to rounding at exact ties."""
    fused = quiet(config(tmp_path, "f")).train_set
    ref = quiet(config(tmp_path, "r", reference=True)).train_set
    assert ref.backend == "reference"
    for i in range(4):
        (fi, fv, fl, _), (ri, rv, rl, _) = fused[i], ref[i]
        assert (fv != rv).float().mean() < 1e-3
        assert (fi.int() - ri.int()).abs().max() <= 1
        assert torch.equal(fl, rl)


def test_bf16_autocast_trains(tmp_path):
    """--amp bf16 (the CUDA default) runs the network in bfloat16; the fused loss takes bf16 logits."""
    losses = {}
    for amp in ("off", "bf16"):
        t = quiet(config(tmp_path, amp, epochs=1, amp=amp))
        t.on_step = lambda tr: tr.request_stop()
        t.fit()
        losses[amp] = t.last_loss
    assert t.amp and losses["bf16"] == pytest.approx(losses["off"], rel=2e-2)


def test_directory_validation_holds_out_whole_faces():
    """300W-LP's pose variants (_0, _1, ...) and mirror images (_Flip) of one photo stay on one
    side of the split."""
    from vrnfast.training.trainer import directory_split

    names = [f"{sub}__{photo}_{k}" for photo in ("HELEN_1", "HELEN_2", "AFW_7", "LFPW_3", "IBUG_9", "AFW_8")
             for sub in ("X", "X_Flip") for k in range(4)]
    ds = type("DS", (), {"names": names, "root": "d", "__len__": lambda self: len(names)})()
    train, val = directory_split(ds, 8)
    assert len(val) == 8 and not set(train) & set(val) and len(train) + 8 <= len(names)
    group = lambda i: names[i].replace("_Flip", "").rsplit("_", 1)[0]
    assert not {group(i) for i in train} & {group(i) for i in val}


@pytest.mark.parametrize("model", ["guided", "multitask"])
def test_landmark_models_train(tmp_path, model):
    t = quiet(config(tmp_path, epochs=1, model=model))
    history = t.fit()
    assert np.isfinite(history[0]["train_loss"]) and 0 <= history[0]["val_iou"] <= 1


def test_bad_arguments(tmp_path):
    with pytest.raises(SystemExit, match="--resume needs --out"):
        main(["train", "--resume"])
    with pytest.raises(SystemExit, match="no .*last.pt"):
        main(["train", "--resume", "--out", str(tmp_path / "nothing")])
    with pytest.raises(SystemExit, match="epochs must be >= 1"):
        main(["train", "--epochs", "0", "--out", str(tmp_path / "x")])
    quiet(config(tmp_path, "c", epochs=1)).fit()
    with pytest.raises(ValueError, match="augment_on must be one of"):
        config(tmp_path, augment_on="gpu")
    with pytest.raises(ValueError, match="amp must be one of"):
        config(tmp_path, amp="fp8")
    with pytest.raises(ValueError, match="device must be auto, cpu, cuda or cuda:N"):
        quiet(config(tmp_path, device="tpu!"))
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available here"):
            quiet(config(tmp_path, device="cuda"))
    with pytest.raises(ValueError, match="trained with batch_size=8"):
        quiet(config(tmp_path, "c", epochs=2, batch_size=4), resume=True)


@pytest.mark.slow
def test_ctrl_c_saves_and_exits(tmp_path):
    out = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "vrnfast", "train", "--out", str(out), "--epochs", "5",
                             "--epoch-size", "256", "--workers", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, cwd=tmp_path)
    deadline = time.time() + 60
    while time.time() < deadline and "epoch 1/5" not in proc.stdout.read1(4096).decode(errors="replace"):
        pass
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    ck = load_checkpoint(out / "last.pt")
    assert ck["step"] > 0


@pytest.mark.slow
def test_two_process_gloo_run(tmp_path):
    """torchrun with 2 CPU processes (gloo): DistributedDataParallel, rank 0 alone writes the run."""
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "vrnfast", "train", "--out", str(out), "--epochs", "2", "--epoch-size", "32",
                           "--workers", "0", "--device", "cpu"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert proc.stdout.count("training vrn") == 1 and "x 2 processes" in proc.stdout
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert [int(r["step"]) for r in rows] == [2, 4]  # 4 batches of 8 per epoch, shared by 2 ranks
    assert float(rows[1]["train_loss"]) < float(rows[0]["train_loss"])
    ck = load_checkpoint(out / "last.pt")
    assert ck["epoch"] == 2 and not any(k.startswith("module.") for k in ck["model"])  # unwrapped weights


def test_the_authors_network_trains_with_the_fused_loss():
    """One RMSProp step of vrn at the paper preset (the authors' graph, one supervised output) on a
    synthetic face, with the fused in-place loss: its gradient reaches the stem, and the step
    lowers the loss."""
    from vrnfast.data import synthetic_sample
    from vrnfast.models import build_model, normalize_images
    from vrnfast.training.trainer import loss_of

    torch.manual_seed(0)
    net = build_model("vrn", "paper").train()
    s = synthetic_sample(0, 0, 192, 200)
    image = normalize_images(torch.from_numpy(s["image"][None]).contiguous())
    volume = torch.from_numpy(s["volume"][None])
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-4)
    out = net(image)
    assert len(out["volume"]) == 1 and out["volume"][0].is_contiguous()
    loss = loss_of(out, volume, None, reference=False)
    opt.zero_grad()
    loss.backward()
    assert net.net.stem[0].weight.grad.abs().sum() > 0
    opt.step()
    with torch.no_grad():
        after = loss_of(net(image), volume, None, reference=True)
    assert np.isfinite(loss.item()) and after.item() < loss.item()
