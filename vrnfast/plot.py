"""Small line plots to PNG with Pillow: training curves and cumulative error distributions.

Conventions: data coordinates grow right (x) and up (y); non-finite points are skipped (a line
breaks there); axis ranges are rounded out to "nice" tick values unless given with xlim / ylim.
Every plot returns a `PlotInfo` saying where the axes ended up, so callers and tests can map data
to pixels. PNGs are written atomically (temp file in the same folder, then os.replace).
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

# matplotlib's tab10: distinct, colour-blind tolerable, known to readers
COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]
BLACK, GRID, WHITE = (0, 0, 0), (225, 225, 225), (255, 255, 255)
TICK_LEN = 5
LEGEND_LOCS = ("best", "upper right", "upper left", "lower right", "lower left")


class PlotInfo(NamedTuple):
    """Where the axes went: box = (left, top, right, bottom) pixels of the plot area (inclusive
    edges of the axes frame); xlim / ylim = the data range drawn across it; ticks = tick values;
    labels = the legend's labels in drawing order (colour k = COLOURS[k % len(COLOURS)])."""
    box: tuple
    xlim: tuple
    ylim: tuple
    xticks: list
    yticks: list
    labels: list


def nice_ticks(lo, hi, target=6):
    """Round tick values covering [lo, hi]: multiples of the smallest step of 1, 2 or 5 times a power
    of ten that gives at most `target` ticks."""
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        raise ValueError(f"need finite lo < hi, got lo={lo}, hi={hi}")
    return _multiples(lo, hi, _nice_step(lo, hi, max(int(target), 2)))


def _nice_step(lo, hi, target):
    exp = 10.0 ** math.floor(math.log10((hi - lo) / target))
    for step in (exp, 2 * exp, 5 * exp):
        if len(_multiples(lo, hi, step)) <= target:
            return step
    return 10 * exp  # > (hi - lo) / target: at most target ticks


def _multiples(lo, hi, step):
    first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
    return [_clean(k * step) for k in range(first, last + 1)]


def _clean(v):
    """Drop the float noise of k * step (0.30000000000000004 -> 0.3) and -0.0."""
    return float(f"{v:.12g}") + 0.0


def _axis(lo, hi, lim, target):
    """(low, high, ticks) of one axis from the data range (lo, hi; None when there is no finite
    data) and the user's limits lim = (low or None, high or None) or None. Automatic ends are
    rounded out to the next tick so the frame starts and ends on a labelled value."""
    user_lo, user_hi = (None, None) if lim is None else lim
    if lo is None:
        lo, hi = 0.0, 1.0
    if hi - lo <= 1e-12 * max(abs(lo), abs(hi), 1.0):  # constant data: give it some room
        pad = 0.1 * abs(lo) if lo != 0 else 0.5
        lo, hi = lo - pad, hi + pad
    step = _nice_step(lo, hi, target)
    lo = _clean(math.floor(lo / step + 1e-9) * step) if user_lo is None else float(user_lo)
    hi = _clean(math.ceil(hi / step - 1e-9) * step) if user_hi is None else float(user_hi)
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        raise ValueError(f"axis limits must be finite with low < high, got {lim}")
    if user_lo is None and user_hi is None:
        return lo, hi, _multiples(lo, hi, step)
    return lo, hi, nice_ticks(lo, hi, target)  # the user's range may be far from the data's


def _fmt(v, step, percent=False):
    """A tick label with just the digits that tell neighbouring ticks apart."""
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if decimals <= 5 and abs(v) < 1e6:
        s = f"{v:.{decimals}f}"
    else:  # tiny steps or huge values: significant digits down to the step's
        digits = math.floor(math.log10(max(abs(v), step))) - math.floor(math.log10(step) + 1e-9) + 1
        s = f"{v:.{max(1, digits)}g}"
    return s + ("%" if percent else "")


def _font(size):
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: a fixed bitmap font
        return ImageFont.load_default()


def _text_size(draw, text, font):
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    return x1 - x0, y1 - y0


def _finite_runs(x, y):
    """Contiguous runs of finite points, each as an (n, 2) array: lines break at NaN / inf."""
    ok = np.isfinite(x) & np.isfinite(y)
    edges = np.flatnonzero(np.diff(np.r_[0, ok.astype(np.int8), 0]))
    return [np.stack([x[a:b], y[a:b]], axis=1) for a, b in zip(edges[::2], edges[1::2])]


def _clip_segments(p0, p1, lo, hi):
    """Liang-Barsky: the parts of segments p0 -> p1 ((n, 2) arrays) inside the box [lo, hi];
    Pillow would clip too, but data far outside xlim / ylim overflows its integer coordinates."""
    d = p1 - p0
    t0, t1 = np.zeros(len(d)), np.ones(len(d))
    keep = np.ones(len(d), bool)
    for axis in (0, 1):
        for p, q in ((-d[:, axis], p0[:, axis] - lo[axis]), (d[:, axis], hi[axis] - p0[:, axis])):
            par = p == 0
            keep &= ~(par & (q < 0))
            with np.errstate(divide="ignore", invalid="ignore"):
                r = q / p
            t0 = np.where(~par & (p < 0), np.maximum(t0, r), t0)
            t1 = np.where(~par & (p > 0), np.minimum(t1, r), t1)
    keep &= t0 <= t1
    return (p0 + t0[:, None] * d)[keep], (p0 + t1[:, None] * d)[keep]


def _save_atomic(img, path):
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        img.save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _as_series(series):
    out = []
    for label, xy in series.items():
        if len(xy) != 2:
            raise ValueError(f"series[{label!r}] must be (xs, ys)")
        x, y = (np.asarray(v, dtype=np.float64).ravel() for v in xy)
        if x.shape != y.shape:
            raise ValueError(f"series[{label!r}]: xs and ys differ in length ({x.size} vs {y.size})")
        out.append((str(label), x, y))
    return out


def _data_range(arrays):
    vals = np.concatenate([a[np.isfinite(a)] for a in arrays] + [np.empty(0)])
    return (float(vals.min()), float(vals.max())) if vals.size else (None, None)


def _paste_vertical(img, text, font, x, y_centre):
    """Axis labels read bottom-to-top: draw horizontally on a scratch image and rotate it."""
    probe = ImageDraw.Draw(img)
    w, h = _text_size(probe, text, font)
    scratch = Image.new("RGBA", (w + 4, h + 6), (255, 255, 255, 0))
    ImageDraw.Draw(scratch).text((2, 0), text, fill=BLACK + (255,), font=font)
    rot = scratch.rotate(90, expand=True)
    img.paste(rot, (int(x), int(y_centre - rot.height / 2)), rot)


def plot_lines(path, series, width=640, height=360, margin=16, *, title=None, xlabel=None, ylabel=None,
               xlim=None, ylim=None, percent_y=False, legend="best"):
    """Line plot of `series` ({label: (xs, ys)}, drawn in dict order, one colour each) to a PNG.

    width, height: image size in pixels; margin: blank border around everything. xlim / ylim:
    (low, high) data range of an axis, either end None to choose it from the data; data outside is
    clipped. percent_y: y tick labels get a % sign. legend: one of LEGEND_LOCS, or None for none.
    Non-finite points are skipped and break the line; a lone point is drawn as a dot.
    Returns a PlotInfo.
    """
    width, height, margin = int(width), int(height), int(margin)
    if width < 120 or height < 90 or margin < 0:
        raise ValueError(f"need width >= 120, height >= 90, margin >= 0; got {width}, {height}, {margin}")
    if legend is not None and legend not in LEGEND_LOCS:
        raise ValueError(f"legend must be one of {LEGEND_LOCS} or None, got {legend!r}")
    data = _as_series(series)
    img = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(img)
    font, title_font = _font(12), _font(15)

    x_lo, x_hi, xticks = _axis(*_data_range([x for _, x, y in data]), xlim, target=max(3, width // 90))
    y_lo, y_hi, yticks = _axis(*_data_range([y for _, x, y in data]), ylim, target=max(3, height // 60))
    xstep = xticks[1] - xticks[0] if len(xticks) > 1 else x_hi - x_lo
    ystep = yticks[1] - yticks[0] if len(yticks) > 1 else y_hi - y_lo
    xlabels = [_fmt(t, xstep) for t in xticks]
    ylabels = [_fmt(t, ystep, percent_y) for t in yticks]

    # layout: reserve room for the title, labels and tick labels, the rest is the plot area
    text_h = _text_size(draw, "0.9Ag", font)[1]
    top = margin + (_text_size(draw, title, title_font)[1] + 8 if title else 4)
    ytick_w = max(_text_size(draw, s, font)[0] for s in ylabels)
    left = margin + (text_h + 6 if ylabel else 0) + ytick_w + TICK_LEN + 4
    bottom = height - 1 - margin - (text_h + 6 if xlabel else 0) - text_h - TICK_LEN - 4
    right = width - 1 - margin - _text_size(draw, xlabels[-1], font)[0] // 2
    if right - left < 40 or bottom - top < 30:
        raise ValueError(f"a {width}x{height} image leaves no room for the plot; make it larger")

    def px(x):
        return left + (np.asarray(x) - x_lo) / (x_hi - x_lo) * (right - left)

    def py(y):
        return bottom - (np.asarray(y) - y_lo) / (y_hi - y_lo) * (bottom - top)

    # grid and ticks
    for t, s in zip(xticks, xlabels):
        u = round(float(px(t)))
        draw.line([(u, top), (u, bottom)], fill=GRID)
        draw.line([(u, bottom), (u, bottom + TICK_LEN)], fill=BLACK)
        w, _ = _text_size(draw, s, font)
        draw.text((u - w / 2, bottom + TICK_LEN + 2), s, fill=BLACK, font=font)
    for t, s in zip(yticks, ylabels):
        v = round(float(py(t)))
        draw.line([(left, v), (right, v)], fill=GRID)
        draw.line([(left - TICK_LEN, v), (left, v)], fill=BLACK)
        w, _ = _text_size(draw, s, font)
        draw.text((left - TICK_LEN - 3 - w, v - text_h / 2 - 1), s, fill=BLACK, font=font)

    _draw_curves(img, data, (left, top, right, bottom), px, py)
    draw.rectangle([left, top, right, bottom], outline=BLACK)

    # title, axis labels, legend
    if title:
        w, _ = _text_size(draw, title, title_font)
        draw.text(((left + right - w) / 2, margin), title, fill=BLACK, font=title_font)
    if xlabel:
        w, _ = _text_size(draw, xlabel, font)
        draw.text(((left + right - w) / 2, bottom + TICK_LEN + text_h + 8), xlabel, fill=BLACK, font=font)
    if ylabel:
        _paste_vertical(img, ylabel, font, margin, (top + bottom) / 2)
    if legend and data:
        _legend(img, [(lab, COLOURS[k % len(COLOURS)]) for k, (lab, _, _) in enumerate(data)],
                font, (left, top, right, bottom), legend)

    _save_atomic(img, path)
    return PlotInfo((left, top, right, bottom), (x_lo, x_hi), (y_lo, y_hi), xticks, yticks,
                    [label for label, _, _ in data])


def _draw_curves(img, data, box, px, py):
    """Each series' finite runs as 2 px lines (a lone point as a dot), drawn on a crop of the plot
    area so that Pillow clips them to it exactly."""
    left, top, right, bottom = box
    area = img.crop((left, top, right + 1, bottom + 1))
    draw = ImageDraw.Draw(area)
    lo, hi = np.array([-4.0, -4.0]), np.array([right - left + 4.0, bottom - top + 4.0])
    for k, (_, x, y) in enumerate(data):
        colour = COLOURS[k % len(COLOURS)]
        for run in _finite_runs(x, y):
            p = np.stack([px(run[:, 0]) - left, py(run[:, 1]) - top], axis=1)
            if len(p) == 1:
                u, v = p[0]
                if np.all((p[0] >= lo) & (p[0] <= hi)):
                    draw.ellipse([u - 3, v - 3, u + 3, v + 3], fill=colour)
                continue
            a, b = _clip_segments(p[:-1], p[1:], lo, hi)
            for (u0, v0), (u1, v1) in zip(a, b):
                draw.line([(u0, v0), (u1, v1)], fill=colour, width=2)
    img.paste(area, (left, top))


def _legend(img, entries, font, box, loc):
    """A white box with a short line of each series' colour and its label, in a corner of the plot;
    loc "best" takes the corner that hides the fewest curve pixels."""
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = box
    row_h = _text_size(draw, "0.9Ag", font)[1] + 6
    swatch, pad = 22, 6
    w = swatch + 6 + max(_text_size(draw, lab, font)[0] for lab, _ in entries) + 2 * pad
    h = row_h * len(entries) + 2 * pad - 4

    def corner(loc):
        return (right - 8 - w if "right" in loc else left + 8, top + 8 if "upper" in loc else bottom - 8 - h)

    if loc == "best":
        ink = np.asarray(img)
        ink = np.any((ink != WHITE) & (ink != GRID), axis=-1)  # curves (and frame), not background or grid
        loc = min(LEGEND_LOCS[1:], key=lambda c: ink[corner(c)[1]:corner(c)[1] + h + 1,
                                                     corner(c)[0]:corner(c)[0] + w + 1].sum())
    x0, y0 = corner(loc)
    draw.rectangle([x0, y0, x0 + w, y0 + h], fill=WHITE, outline=(160, 160, 160))
    for i, (label, colour) in enumerate(entries):
        y = y0 + pad + i * row_h
        mid = y + (row_h - 6) / 2 + 1
        draw.line([(x0 + pad, mid), (x0 + pad + swatch, mid)], fill=colour, width=3)
        draw.text((x0 + pad + swatch + 6, y), label, fill=BLACK, font=font)


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


def _ced_label(label, errors):
    e = np.asarray(errors, dtype=np.float64).ravel()
    ok = np.isfinite(e)
    mean = f"mean {e[ok].mean():.3f}" if ok.any() else "mean n/a"
    failed = f", {np.count_nonzero(~ok)} failed" if not ok.all() and ok.any() else ""
    return f"{label} ({mean}{failed})"


def plot_ced(path, errors, x_max=0.1, title=None, width=640, height=420, n=1001,
             xlabel="NME (normalised by outer interocular distance)", ylabel="Images (%)"):
    """The cumulative error distribution figure of face-alignment / reconstruction papers.

    errors: {label: per-image errors}, e.g. one entry per model and one for the mean-shape
    baseline. x: error threshold from 0 to x_max; y: percentage of images with error <= x.
    Legend labels carry each entry's mean over its finite errors, e.g. "VRN (mean 0.052)".
    Returns a PlotInfo.
    """
    series = {_ced_label(k, v): ced_curve(v, x_max, n) for k, v in errors.items()}
    return plot_lines(path, series, width, height, title=title, xlabel=xlabel, ylabel=ylabel,
                      xlim=(0.0, x_max), ylim=(0.0, 100.0), percent_y=True)
