"""Training throughput: one optimisation step with the fused ops against the same step in plain
PyTorch (--reference), and the data pipeline alone (synthesis + augmentation), in samples/s.
The pipeline must keep up with the step. CPU at the tiny preset; CUDA at the paper preset, batch 8,
when a GPU is present.
"""
from __future__ import annotations

import pytest
import torch

from vrnfast.training.trainer import TrainConfig, Trainer

from conftest import SMALL

CASES = [("cpu", "tiny", 8)] + ([("cuda", "paper", 8)] if torch.cuda.is_available() else [])


def _trainer(tmp_path, device, preset, batch, reference):
    cfg = TrainConfig(out=str(tmp_path / f"{device}-{reference}"), preset=preset, batch_size=batch, val_size=2,
                      epoch_size=batch, reference=reference, device=device, workers=0)
    return Trainer(cfg, progress=False)


@pytest.mark.parametrize("device, preset, batch", CASES)
@pytest.mark.parametrize("impl", ["vrnfast", "reference"])
def test_training_step(benchmark, tmp_path, device, preset, batch, impl):
    t = _trainer(tmp_path, device, preset, batch, impl == "reference")
    batch_cpu = torch.utils.data.default_collate([t.train_set[i] for i in range(batch)])
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def step():  # augmentation on the device (CUDA) or in the workers (CPU: here, before timing)
        loss = t.train_step(*t.to_device(*batch_cpu))
        sync()
        return loss.item()

    assert torch.isfinite(torch.tensor(step()))
    benchmark.group = f"train step {preset} B{batch} {device}"
    benchmark.extra_info.update(impl=impl, shape=[batch, 3, t.train_set.size, t.train_set.size], device=device,
                                target_dtype="uint8" if impl == "vrnfast" else "float32", bytes_moved=0,
                                note="one optimisation step; samples/s = batch / median time")
    benchmark.pedantic(step, rounds=2 if SMALL else 5, warmup_rounds=1)
    benchmark.extra_info["samples_per_s"] = batch / benchmark.stats.stats.median if benchmark.stats else None


def test_data_pipeline(benchmark, tmp_path):
    t = _trainer(tmp_path, "cpu", "tiny", 8, False)
    counter = iter(range(10**9))
    benchmark.group = "train data pipeline tiny cpu"
    benchmark.extra_info.update(impl="synthesis + augmentation", shape=[1, 3, 64, 64], device="cpu",
                                target_dtype="uint8", bytes_moved=0, note="one sample, one core")
    image, volume, _, _ = benchmark.pedantic(lambda: t.train_set[next(counter) % len(t.train_set)],
                                          rounds=5 if SMALL else 40, warmup_rounds=1)
    assert image.shape == (3, 64, 64) and volume.dtype == torch.uint8
