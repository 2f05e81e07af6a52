"""The run's figures with matplotlib: training curves (loss.png) and cumulative error distributions.

Each figure has a function that builds it (a `matplotlib.figure.Figure` on an Agg canvas, so no
display is needed and pyplot's global state is never touched; tests read its data back) and one
that also writes it as a PNG of exactly width x height pixels, atomically (a temporary file in the
same folder, then os.replace), and returns the figure. Non-finite values are drawn as gaps: a line
breaks there; every point carries a small marker in the training curves, so a lone value shows.
"""
from __future__ import annotations

import math

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 100
LR_DROP_GID = "lr_drop"  # the gid of the lr-drop markers (vertical lines) in the training figure


def _figure(width, height):
    width, height = int(width), int(height)
    if width < 100 or height < 100:
        raise ValueError(f"width and height must be >= 100 pixels, got {width}x{height}")
    fig = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig, path):
    """`fig` as a PNG at its own size and dpi, written atomically; returns the Path."""
    from ..io import atomic_write

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=fig.dpi))


def _finite_or_nan(values):
    a = np.asarray(values, dtype=np.float64).ravel()
    return np.where(np.isfinite(a), a, np.nan)


# ---- training curves ----------------------------------------------------------------------------

def lr_drops(history):
    """[(epoch, lr before, lr after)] for each epoch after which the learning rate changed: the
    last epoch trained at the old rate (what --lr-drop-epoch names), read from the rows' lr."""
    return [(a["epoch"], a["lr"], b["lr"]) for a, b in zip(history, history[1:]) if b["lr"] != a["lr"]]


def training_figure(history, title=None, width=640, height=480):
    """The figure of loss.png: two panels sharing the epoch axis.

    history: the run's rows (dicts with epoch, lr, train_loss, val_loss, val_iou, baseline_iou:
    what log.csv holds), in epoch order. Top: train and validation loss (sigmoid BCE); bottom:
    the validation IoU and the mean-shape baseline's. Each lr change is a dashed vertical line at
    the epoch after which it happened, in both panels (gid LR_DROP_GID), labelled in the top
    panel's legend with the rates.
    """
    fig = _figure(width, height)
    loss_ax, iou_ax = fig.subplots(2, 1, sharex=True)
    epochs = np.asarray([r["epoch"] for r in history], dtype=np.float64)
    style = dict(marker="o", markersize=3, linewidth=1.5)
    for ax, keys in ((loss_ax, (("train loss", "train_loss", "-"), ("val loss", "val_loss", "-"))),
                     (iou_ax, (("val IoU", "val_iou", "-"), ("mean-shape baseline", "baseline_iou", ":")))):
        for label, key, line in keys:
            ax.plot(epochs, _finite_or_nan([r[key] for r in history]), line, label=label, **style)
    for epoch, before, after in lr_drops(history):
        loss_ax.axvline(epoch, color="0.4", linestyle="--", linewidth=1, gid=LR_DROP_GID,
                        label=f"lr {before:.3g} \u2192 {after:.3g} after epoch {epoch}")
        iou_ax.axvline(epoch, color="0.4", linestyle="--", linewidth=1, gid=LR_DROP_GID)
    if title:
        loss_ax.set_title(title)
    loss_ax.set_ylabel("sigmoid BCE")
    iou_ax.set_ylabel("validation IoU")
    iou_ax.set_xlabel("epoch")
    iou_ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in (loss_ax, iou_ax):
        ax.grid(True, color="0.9")
        ax.legend(loc="best", fontsize="small")
    return fig


def plot_training(path, history, title=None, width=640, height=480):
    """training_figure(...) written to `path` (PNG, atomic); returns the figure."""
    fig = training_figure(history, title, width, height)
    save_figure(fig, path)
    return fig


# ---- cumulative error distributions -------------------------------------------------------------

def ced_curve(errors, x_max=0.1, n=1001):
    """Cumulative error distribution: xs = n thresholds evenly from 0 to x_max, ys = percentage of
    images whose error is <= the threshold (0..100). Non-finite errors (NaN, +-inf: failed fits;
    errors are never negative) count as images above every threshold, so for finite errors
    ys[i] == 100 * mean(errors <= xs[i])."""
    e = np.asarray(errors, dtype=np.float64).ravel()
    x_max, n = float(x_max), int(n)
    if not math.isfinite(x_max) or x_max <= 0:
        raise ValueError(f"x_max must be finite and > 0, got {x_max}")
    if n < 2:
        raise ValueError(f"n must be >= 2, got {n}")
    xs = np.linspace(0.0, x_max, n)
    if e.size == 0:
        return xs, np.zeros(n)
    finite = np.sort(e[np.isfinite(e)])
    counts = np.searchsorted(finite, xs, side="right")
    return xs, 100.0 * (counts / e.size)


def ced_auc(errors, x_max=0.1, n=1001):
    """Area under the CED curve up to x_max, normalised to [0, 1]: the trapezoid rule over
    ced_curve's n points (as fractions of the images), divided by x_max. 1: every error is 0;
    0: none is below x_max (or there are no errors)."""
    xs, ys = ced_curve(errors, x_max, n)
    frac = ys / 100.0
    return float(np.sum((frac[1:] + frac[:-1]) * np.diff(xs)) / 2 / float(x_max))


def ced_label(label, errors, x_max=0.1, n=1001):
    """A CED legend entry: the label with the curve's AUC, the mean of the finite errors and the
    count of failed (non-finite) ones, e.g. "VRN (AUC 0.512, mean 0.052, 1 failed)"."""
    e = np.asarray(errors, dtype=np.float64).ravel()
    if e.size == 0:
        return f"{label} (no images)"
    ok = np.isfinite(e)
    parts = [f"AUC {ced_auc(e, x_max, n):.3f}", f"mean {e[ok].mean():.3f}" if ok.any() else "mean n/a"]
    if not ok.all():
        parts.append(f"{np.count_nonzero(~ok)} failed")
    return f"{label} ({', '.join(parts)})"


def ced_figure(errors, x_max=0.1, title=None, width=640, height=420, n=1001,
               xlabel="NME (normalised by outer interocular distance)", ylabel="Images (%)"):
    """The cumulative error distribution figure of face-alignment / reconstruction papers.

    errors: {label: per-image errors}, e.g. one entry per model and one for the mean-shape
    baseline, drawn in dict order. x: error threshold from 0 to x_max; y: percentage of images
    with error <= x (0..100). Legend labels: ced_label's (AUC up to x_max, mean, failures).
    """
    fig = _figure(width, height)
    ax = fig.add_subplot()
    for label, e in errors.items():
        xs, ys = ced_curve(e, x_max, n)
        ax.plot(xs, ys, linewidth=1.8, label=ced_label(label, e, x_max, n))
    ax.set_xlim(0.0, float(x_max))
    ax.set_ylim(0.0, 100.0)
    if title:
        ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, color="0.9")
    if errors:
        ax.legend(loc="lower right", fontsize="small")
    return fig


def plot_ced(path, errors, x_max=0.1, title=None, width=640, height=420, n=1001,
             xlabel="NME (normalised by outer interocular distance)", ylabel="Images (%)"):
    """ced_figure(...) written to `path` (PNG, atomic); returns the figure."""
    fig = ced_figure(errors, x_max, title, width, height, n, xlabel, ylabel)
    save_figure(fig, path)
    return fig
