"""The paper's evaluation protocol: `vrnfast evaluate`.

For each test face: the network's volume (last stack, sigmoid) against the ground truth (IoU at
0.5), and its marching-cubes mesh against the ground-truth face surface by NME: rigid ICP, then the
mean distance over ground-truth vertices, divided by the 3-D outer interocular distance (landmarks
36 and 45). Everything is measured in the volume's (x, y, z), z scaled like x and y. The
mean-shape baseline (the mean training target, thresholded; carried by the checkpoint) is scored
beside the model. Guided and Multitask models also get 2-D and 3-D landmark NMEs: the heatmaps'
peaks, and for 3-D the predicted volume's front surface under each peak, against the ground truth,
normalised by the same interocular distance. Results are binned by |yaw| (0-30, 30-60, 60-90
degrees) as the paper's tables are, and summarised in a JSON file and a CED plot.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from .. import metrics
from ..models import PRESETS
from ..models.heatmaps import front_depth
from ..models.heatmaps import peaks as landmarks_from_heatmaps

YAW_BINS = ((0, 30), (30, 60), (60, 90))
TEST_SEED_OFFSET = 2_000_003  # the synthetic test faces: neither trained on nor used for validation


def held_out_samples(data, seed, preset, n=None):
    """(count, iterator of sample dicts with image, volume, landmarks, face_verts, pose, name)."""
    from ..data import FaceDataset, synthetic_sample

    p = PRESETS[preset]
    if data == "synthetic":
        n = 200 if n is None else n
        return n, (synthetic_sample(i, seed + TEST_SEED_OFFSET, p.image_size, p.depth, with_face=True)
                   for i in range(n))
    ds = FaceDataset(data)
    if (ds.image_size, ds.depth) != (p.image_size, p.depth):
        raise ValueError(f"{data} holds {ds.image_size}x{ds.image_size}x{ds.depth} samples; the checkpoint's "
                         f"preset {preset} needs {p.image_size}x{p.image_size}x{p.depth}")
    n = len(ds) if n is None else min(n, len(ds))
    return n, (ds[i] for i in range(n))


def surface_points(volume, level=0.5):
    """(V, 3) float64 (x, y, z) vertices of a volume's marching-cubes surface (empty: (0, 3))."""
    from ..io import volume_to_image
    from ..ops.marching_cubes import marching_cubes

    verts, _ = marching_cubes(np.asarray(volume), level)
    return volume_to_image(verts).astype(np.float64)


def yaw_bin(yaw):
    """The bin of a yaw in degrees, as 3DDFA's AFLW2000-3D protocol bins |yaw|: [0, 30], (30, 60],
    and everything beyond 60 (a fitted pose can pass 90) in the last."""
    a = abs(float(yaw))
    for lo, hi in YAW_BINS[:-1]:
        if a <= hi:
            return f"{lo}-{hi}"
    return "{}-{}".format(*YAW_BINS[-1])


def score_sample(sample, prob, baseline_points, baseline_volume, heatmaps=None, z_scale=1.0):
    """The metrics of one face: its dict row for the JSON. A model whose slices are `z_scale`
    pixels deep (the authors' converted model: 0.5) has its surface's depth scaled to the data's
    before NME (ICP then aligns it); its IoU, of volumes on other depth grids, is None."""
    gt_volume = sample["volume"]
    gt = sample.get("face_verts")
    if gt is None:  # no stored face surface: the target volume's surface stands in
        gt = surface_points(gt_volume)
    interocular = metrics.interocular_distance(sample["landmarks"])
    pred = surface_points(prob) * [1.0, 1.0, z_scale]
    row = {"name": sample["name"],
           "yaw": float(sample["pose"][0]) if "pose" in sample else None,
           "iou": metrics.iou(prob, gt_volume) if z_scale == 1.0 else float("nan"),
           "nme": metrics.nme(pred, gt, interocular) if len(pred) else float("nan"),
           "baseline_iou": metrics.iou(baseline_volume, gt_volume),
           "baseline_nme": metrics.nme(baseline_points, gt, interocular) if len(baseline_points) else float("nan")}
    if heatmaps is not None:
        xy = landmarks_from_heatmaps(heatmaps[None])[0]
        lm = sample["landmarks"]
        row["landmarks_2d_nme"] = metrics.landmark_nme(xy, lm[:, :2], interocular)
        z = front_depth(prob, xy)
        z = np.where(np.isnan(z), np.nanmedian(z) if np.isfinite(z).any() else (prob.shape[0] - 1) / 2, z)
        row["landmarks_3d_nme"] = metrics.landmark_nme(np.concatenate([xy, z[:, None]], 1), lm, interocular)
    # no surface predicted: no NME (None in the JSON; counted in n_failed, beyond every CED threshold)
    return {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in row.items()}


def _errors(rows, key):
    """A row field as float64, a failed (None) entry as +inf."""
    return np.asarray([np.inf if r[key] is None else r[key] for r in rows], dtype=np.float64)


def _mean(values):
    v = np.asarray([x for x in values if x is not None], dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else None


def _median(v):
    """Median with failures (+inf) ranked last; None when undefined."""
    m = float(np.median(v)) if v.size else None
    return m if m is not None and np.isfinite(m) else None


def summarise(rows):
    """The JSON's summary fields (DESIGN.md) from the per-sample rows: means over the faces with a
    predicted surface, medians over all (a failure ranks last)."""
    nme, baseline_nme = _errors(rows, "nme"), _errors(rows, "baseline_nme")
    out = {"n": len(rows), "n_failed": int(np.count_nonzero(~np.isfinite(nme))),
           "iou_mean": _mean(r["iou"] for r in rows),
           "nme_mean": _mean(nme), "nme_median": _median(nme),
           "baseline_iou_mean": _mean(r["baseline_iou"] for r in rows),
           "baseline_nme_mean": _mean(baseline_nme), "baseline_nme_median": _median(baseline_nme)}
    for key in ("landmarks_2d_nme", "landmarks_3d_nme"):
        if rows and key in rows[0]:
            out[f"{key}_mean"] = _mean(r[key] for r in rows)
    bins = {}
    for lo, hi in YAW_BINS:
        name = f"{lo}-{hi}"
        members = [r for r in rows if r["yaw"] is not None and yaw_bin(r["yaw"]) == name]
        bins[name] = {"n": len(members), "nme_mean": _mean(r["nme"] for r in members),
                      "baseline_nme_mean": _mean(r["baseline_nme"] for r in members),
                      "iou_mean": _mean(r["iou"] for r in members)}
        if members and "landmarks_3d_nme" in members[0]:
            bins[name]["landmarks_3d_nme_mean"] = _mean(r["landmarks_3d_nme"] for r in members)
    out["yaw_bins"] = bins
    return out


def evaluate(checkpoint, data="synthetic", n=None, batch_size=8, device="auto", progress=True, precision="auto",
             on_face=None):
    """Scores a checkpoint on a test set ("synthetic": faces of a seed never trained on, or a
    dataset directory): the JSON-ready dict of summarise() plus "samples" (one row per face).
    on_face(sample, prob, row, z_scale), when given, sees every face as it is scored (e.g.
    vrnfast.evaluation.report.WorstFaces)."""
    from tqdm import tqdm

    from ..reconstruction.reconstructor import Reconstructor
    from ..training.trainer import checkpoint_baseline

    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    rec = Reconstructor(checkpoint, device=device, precision=precision)
    ck = rec.checkpoint
    baseline = checkpoint_baseline(ck)
    baseline_points = surface_points(baseline)
    seed = int(ck.get("config", {}).get("seed", 0))
    total, samples = held_out_samples(data, seed, rec.preset, n)
    rows = []
    with tqdm(total=total, desc=f"evaluate {rec.model_name} ({rec.preset})", unit="face", disable=not progress) as bar:
        batch = []
        for sample in samples:
            batch.append(sample)
            if len(batch) == batch_size or len(rows) + len(batch) == total:
                out = rec.predict(torch.from_numpy(np.stack([s["image"] for s in batch])))
                probs = out["volume"].cpu().numpy()
                heat = out["heatmaps"].cpu().numpy() if out["heatmaps"] is not None else [None] * len(batch)
                for s, prob, hm in zip(batch, probs, heat):
                    rows.append(score_sample(s, prob, baseline_points, baseline, hm, rec.z_scale))
                    if on_face is not None:
                        on_face(s, prob, rows[-1], rec.z_scale)
                bar.update(len(batch))
                batch = []
    if any(r["yaw"] is None for r in rows):
        warnings.warn(f"{data}: some samples have no pose; they are left out of the yaw bins", RuntimeWarning)
    result = {"checkpoint": str(checkpoint) if not isinstance(checkpoint, dict) else None,
              "model": rec.model_name, "preset": rec.preset, "data": str(data), **summarise(rows), "samples": rows}
    return result


def format_table(result) -> str:
    """The printed table: mean and median NME, IoU, per yaw bin, beside the mean-shape baseline."""
    def f(v, spec=".4f"):
        return "-" if v is None else format(v, spec)

    lines = [f"{result['model']} ({result['preset']}) on {result['data']}: {result['n']} faces"
             + (f", {result['n_failed']} with no predicted surface" if result["n_failed"] else ""),
             f"{'':18}{'model':>10}{'baseline':>10}",
             f"{'NME mean':18}{f(result['nme_mean']):>10}{f(result['baseline_nme_mean']):>10}",
             f"{'NME median':18}{f(result['nme_median']):>10}{f(result['baseline_nme_median']):>10}",
             f"{'IoU mean':18}{f(result['iou_mean'], '.3f'):>10}{f(result['baseline_iou_mean'], '.3f'):>10}"]
    for name, b in result["yaw_bins"].items():
        lines.append(f"{'NME yaw ' + name:18}{f(b['nme_mean']):>10}{f(b['baseline_nme_mean']):>10}   (n={b['n']})")
    for key, label in (("landmarks_2d_nme_mean", "landmarks 2-D NME"), ("landmarks_3d_nme_mean", "landmarks 3-D NME")):
        if key in result:
            lines.append(f"{label:18}{f(result[key]):>10}")
    return "\n".join(lines)


def write_outputs(result, json_path, ced_path, x_max=0.1):
    """The JSON (atomic) and the CED plot: model and baseline curves."""
    from ..viz.plot import plot_ced

    from ..io import atomic_write

    text = json.dumps(result, indent=1, allow_nan=False, default=_jsonable)
    atomic_write(json_path, lambda f: f.write(text.encode()))
    rows = result["samples"]
    plot_ced(ced_path, {f"{result['model']} ({result['preset']})": _errors(rows, "nme"),
                        "mean-shape baseline": _errors(rows, "baseline_nme")},
             x_max=x_max, title=f"CED on {Path(str(result['data'])).name}, {result['n']} faces")


def _jsonable(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    raise TypeError(f"{type(v).__name__} is not JSON serialisable")
