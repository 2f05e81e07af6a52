"""vrnfast.viz.plot: the figures' data read back (lines, legend labels, markers, axes), the PNGs they
write, and bad or degenerate inputs."""
import math

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from vrnfast.viz.plot import (LR_DROP_GID, ced_auc, ced_curve, ced_figure, ced_label, lr_drops, plot_ced,
                          plot_training, save_figure, training_figure)


def load(path):
    with Image.open(path) as im:
        im.load()
        return im.format, im.mode, np.asarray(im)


def history(epochs, lr_drop_epoch=None, lr=1e-3, factor=0.1, **overrides):
    """Rows as the trainer writes them: epoch e (1-based) trained at lr while e <= lr_drop_epoch."""
    rows = []
    for e in range(1, epochs + 1):
        rows.append(dict(epoch=e, step=2 * e, lr=lr if lr_drop_epoch is None or e <= lr_drop_epoch else lr * factor,
                         train_loss=1.0 / e, val_loss=1.2 / e, val_iou=0.5 + 0.02 * e, baseline_iou=0.42,
                         samples_per_s=10.0 + e))
    for key, values in overrides.items():
        for row, v in zip(rows, values):
            row[key] = v
    return rows


def curves(ax):
    """{label: (x, y)} of an axes' data lines (the lr-drop markers left out)."""
    return {line.get_label(): (np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float))
            for line in ax.get_lines() if line.get_gid() != LR_DROP_GID}


def markers(ax):
    return [line for line in ax.get_lines() if line.get_gid() == LR_DROP_GID]


def legend_labels(ax):
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


# ---- training curves ----------------------------------------------------------------------------

def test_training_figure_shows_the_rows(tmp_path):
    rows = history(20, lr_drop_epoch=15)
    fig = training_figure(rows, title="vrn (tiny)")
    loss_ax, iou_ax = fig.axes
    ep = np.arange(1, 21, dtype=float)
    got = curves(loss_ax)
    assert list(got) == ["train loss", "val loss"]
    for label, key in (("train loss", "train_loss"), ("val loss", "val_loss")):
        np.testing.assert_array_equal(got[label][0], ep)
        np.testing.assert_array_equal(got[label][1], [r[key] for r in rows])
    got = curves(iou_ax)
    assert list(got) == ["val IoU", "mean-shape baseline"]
    np.testing.assert_array_equal(got["val IoU"][1], [r["val_iou"] for r in rows])
    np.testing.assert_array_equal(got["mean-shape baseline"][1], [0.42] * 20)
    np.testing.assert_array_equal(got["mean-shape baseline"][0], ep)
    assert loss_ax.get_title() == "vrn (tiny)"
    assert loss_ax.get_ylabel() == "sigmoid BCE" and iou_ax.get_ylabel() == "validation IoU"
    assert iou_ax.get_xlabel() == "epoch"
    assert loss_ax.get_shared_x_axes().joined(loss_ax, iou_ax)
    # automatic ranges cover the data
    for ax, keys in ((loss_ax, ("train_loss", "val_loss")), (iou_ax, ("val_iou", "baseline_iou"))):
        values = [r[k] for r in rows for k in keys]
        lo, hi = ax.get_ylim()
        assert lo <= min(values) and hi >= max(values)
        assert ax.get_xlim()[0] <= 1 and ax.get_xlim()[1] >= 20
    assert all(t == int(t) for t in iou_ax.get_xticks())  # whole epochs


def test_lr_drop_is_marked_after_the_epoch_lr_drop_epoch_names():
    rows = history(20, lr_drop_epoch=15)
    assert lr_drops(rows) == [(15, 1e-3, pytest.approx(1e-4))]
    fig = training_figure(rows)
    for ax in fig.axes:
        (line,) = markers(ax)
        np.testing.assert_array_equal(line.get_xdata(), [15, 15])
    labels = legend_labels(fig.axes[0])
    assert labels[:2] == ["train loss", "val loss"]
    assert labels[2] == "lr 0.001 \u2192 0.0001 after epoch 15"
    # not reached yet, or no drop at all: no marker
    assert markers(training_figure(history(15, lr_drop_epoch=15)).axes[0]) == []
    assert markers(training_figure(history(5)).axes[0]) == []
    # two changes (another factor): two markers, at each change
    rows = history(6, lr_drop_epoch=2)
    for r in rows[4:]:
        r["lr"] = 1e-6
    assert [float(m.get_xdata()[0]) for m in markers(training_figure(rows).axes[0])] == [2.0, 4.0]


def test_training_png_is_written_atomically_at_its_size(tmp_path):
    fig = plot_training(tmp_path / "loss.png", history(3), title="t", width=500, height=400)
    fmt, mode, img = load(tmp_path / "loss.png")
    assert fmt == "PNG" and img.shape[:2] == (400, 500) and mode in ("RGB", "RGBA")
    assert mode == "RGB" or np.all(img[..., 3] == 255)  # opaque
    assert img[..., :3].std() > 10  # something is drawn on the white
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]  # no temporary file left behind
    assert isinstance(fig.canvas, FigureCanvasAgg)
    plot_training(tmp_path / "loss.png", history(4))  # replaced in place, default size
    assert load(tmp_path / "loss.png")[2].shape[:2] == (480, 640)


def test_figures_stay_out_of_pyplot(tmp_path):
    plot_training(tmp_path / "a.png", history(2))
    plot_ced(tmp_path / "b.png", {"m": [0.01, 0.02]})
    import matplotlib.pyplot as plt

    assert plt.get_fignums() == []


@pytest.mark.parametrize("rows", [
    history(1),  # one epoch: one point per line
    history(4, train_loss=[1.0, np.nan, 0.5, np.inf], val_loss=[np.nan] * 4, val_iou=[-np.inf, 0.3, 0.4, np.nan]),
    history(3, train_loss=[0.5] * 3, val_loss=[0.0] * 3),  # constant lines
    [],  # no epoch yet
], ids=["one epoch", "non-finite", "constant", "empty"])
def test_degenerate_and_non_finite_histories_still_plot(tmp_path, rows):
    fig = plot_training(tmp_path / "p.png", rows)
    for ax in fig.axes:
        lo, hi = ax.get_ylim()
        assert math.isfinite(lo) and math.isfinite(hi) and lo < hi
        for x, y in curves(ax).values():
            assert len(x) == len(y) == len(rows)
    # non-finite values are gaps (NaN), finite ones are kept as given
    expected = np.array([r["train_loss"] for r in rows], float)
    np.testing.assert_array_equal(curves(fig.axes[0])["train loss"][1], np.where(np.isfinite(expected), expected, np.nan))
    assert load(tmp_path / "p.png")[2].shape[:2] == (480, 640)


def test_lone_finite_points_are_visible():
    """A value between gaps draws no line segment: every point carries a marker."""
    fig = training_figure(history(3, val_loss=[np.nan, 0.7, np.nan]))
    for ax in fig.axes:
        for line in ax.get_lines():
            if line.get_gid() != LR_DROP_GID:
                assert line.get_marker() not in (None, "None", "", " ") and line.get_markersize() > 0


# ---- cumulative error distributions -------------------------------------------------------------

def test_ced_curve_matches_numpy():
    rng = np.random.default_rng(0)
    errors = np.concatenate([rng.gamma(4, 0.012, 500), [np.nan, np.inf, 0.0, 0.05]])
    xs, ys = ced_curve(errors, x_max=0.08, n=301)
    assert xs[0] == 0 and xs[-1] == pytest.approx(0.08) and len(xs) == len(ys) == 301
    expected = [100 * np.mean(errors <= x) for x in xs]
    np.testing.assert_allclose(ys, expected, rtol=1e-12, atol=0)
    assert np.all(np.diff(ys) >= 0) and ys[-1] < 100  # NaN / inf count as failures
    assert ced_curve([], 0.1, 5)[1].tolist() == [0] * 5
    with pytest.raises(ValueError, match="x_max"):
        ced_curve(errors, x_max=0)
    with pytest.raises(ValueError, match="n must be"):
        ced_curve(errors, n=1)


def independent_auc(errors, x_max, n):
    """The trapezoid rule over the CED curve built from scratch, normalised by x_max."""
    errors = np.asarray(errors, float)
    xs = np.linspace(0, x_max, n)
    frac = np.array([np.mean(errors <= x) for x in xs])  # NaN <= x is False: a failure
    return np.trapezoid(frac, xs) / x_max


def test_ced_auc_matches_the_trapezoid_and_the_exact_area():
    rng = np.random.default_rng(3)
    errors = np.r_[rng.gamma(4, 0.012, 400), np.nan, np.inf]
    for x_max, n in ((0.1, 1001), (0.07, 71)):
        auc = ced_auc(errors, x_max, n)
        assert auc == pytest.approx(independent_auc(errors, x_max, n), rel=1e-12)
        # the step function's exact area: each finite error e < x_max adds (x_max - e) / x_max
        exact = np.mean(np.where(np.isfinite(errors), np.clip(1 - errors / x_max, 0, None), 0.0))
        assert abs(auc - exact) <= 1 / (n - 1)
    assert ced_auc(np.zeros(5)) == pytest.approx(1.0)
    assert ced_auc([0.5, np.nan]) == 0.0 and ced_auc([]) == 0.0


def test_ced_figure_curves_limits_and_legend(tmp_path):
    rng = np.random.default_rng(1)
    vrn = rng.gamma(4, 0.012, 300)
    base = np.r_[rng.gamma(4, 0.02, 299), np.nan]
    fig = plot_ced(tmp_path / "ced.png", {"VRN": vrn, "mean-shape baseline": base}, x_max=0.1, title="CED")
    (ax,) = fig.axes
    assert ax.get_xlim() == (0.0, 0.1) and ax.get_ylim() == (0.0, 100.0)
    assert ax.get_title() == "CED" and ax.get_xlabel().startswith("NME") and ax.get_ylabel() == "Images (%)"
    xs = np.linspace(0, 0.1, 1001)
    lines = ax.get_lines()
    assert len(lines) == 2
    for line, e in zip(lines, (vrn, base)):
        np.testing.assert_allclose(line.get_xdata(), xs, rtol=0, atol=1e-15)
        np.testing.assert_allclose(line.get_ydata(), [100 * np.mean(e <= x) for x in xs], rtol=1e-12)
    vrn_auc, base_auc = independent_auc(vrn, 0.1, 1001), independent_auc(base, 0.1, 1001)
    assert vrn_auc > base_auc
    assert legend_labels(ax) == [f"VRN (AUC {vrn_auc:.3f}, mean {vrn.mean():.3f})",
                                 f"mean-shape baseline (AUC {base_auc:.3f}, mean {np.nanmean(base):.3f}, 1 failed)"]
    assert [line.get_label() for line in lines] == legend_labels(ax)
    fmt, _, img = load(tmp_path / "ced.png")
    assert fmt == "PNG" and img.shape[:2] == (420, 640)
    assert [p.name for p in tmp_path.iterdir()] == ["ced.png"]


def test_ced_x_max_sets_the_range_and_the_auc():
    e = np.linspace(0.0, 0.2, 101)
    (ax,) = ced_figure({"m": e}, x_max=0.05, n=51).axes
    assert ax.get_xlim() == (0.0, 0.05)
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), np.linspace(0, 0.05, 51), atol=1e-15)
    assert legend_labels(ax) == [f"m (AUC {independent_auc(e, 0.05, 51):.3f}, mean 0.100)"]


def test_ced_degenerate_inputs(tmp_path):
    """An empty baseline, one with only failures, a single image, and no entries at all."""
    fig = plot_ced(tmp_path / "c.png", {"model": [0.03], "baseline": [], "all failed": [np.nan, np.inf]})
    (ax,) = fig.axes
    assert legend_labels(ax) == [f"model (AUC {independent_auc([0.03], 0.1, 1001):.3f}, mean 0.030)",
                                 "baseline (no images)", "all failed (AUC 0.000, mean n/a, 2 failed)"]
    np.testing.assert_array_equal(ax.get_lines()[1].get_ydata(), np.zeros(1001))
    np.testing.assert_array_equal(ax.get_lines()[2].get_ydata(), np.zeros(1001))
    assert load(tmp_path / "c.png")[2].shape[:2] == (420, 640)
    (ax,) = plot_ced(tmp_path / "d.png", {}).axes
    assert ax.get_lines() == [] and ax.get_legend() is None
    assert ced_label("x", [np.nan]) == "x (AUC 0.000, mean n/a, 1 failed)"


def test_plot_ced_positional_arguments_keep_their_order(tmp_path):
    plot_ced(tmp_path / "a.png", {"m": [0.01, 0.02]}, 0.05, "title", 320, 200, 11)
    assert load(tmp_path / "a.png")[2].shape[:2] == (200, 320)


def test_bad_inputs_raise(tmp_path):
    with pytest.raises(ValueError, match="x_max"):
        plot_ced(tmp_path / "p.png", {"a": [0.1]}, x_max=0)
    with pytest.raises(ValueError, match=">= 100 pixels"):
        plot_ced(tmp_path / "p.png", {"a": [0.1]}, width=50)
    with pytest.raises(ValueError, match=">= 100 pixels"):
        training_figure(history(2), height=10)
    assert not (tmp_path / "p.png").exists()


def test_save_figure_leaves_no_partial_file_on_failure(tmp_path, monkeypatch):
    fig = training_figure(history(2))
    save_figure(fig, tmp_path / "loss.png")
    before = (tmp_path / "loss.png").read_bytes()

    def broken(file, **kwargs):  # half a file written, then the disk is full
        file.write(b"\x89PNG")
        raise OSError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(OSError, match="disk full"):
        save_figure(fig, tmp_path / "loss.png")
    assert (tmp_path / "loss.png").read_bytes() == before  # the old plot is intact
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]
