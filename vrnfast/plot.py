"""A minimal line-plot renderer to PNG (numpy only): enough for training curves."""
from __future__ import annotations

import numpy as np

from .io import save_png

COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40)]


def _line(img, x0, y0, x1, y1, colour):
    n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    xs = np.rint(np.linspace(x0, x1, n)).astype(int)
    ys = np.rint(np.linspace(y0, y1, n)).astype(int)
    ok = (xs >= 0) & (xs < img.shape[1]) & (ys >= 0) & (ys < img.shape[0])
    for dy in (0, 1):  # 2 px wide
        img[np.clip(ys[ok] + dy, 0, img.shape[0] - 1), xs[ok]] = colour


def plot_lines(path, series, width=640, height=360, margin=30):
    """series: {name: (x values, y values)}; one colour per series (legend order = dict order),
    white background, axes box; y from the data's min to max."""
    img = np.full((height, width, 3), 255, np.uint8)
    pts = [(np.asarray(x, float), np.asarray(y, float)) for x, y in series.values()]
    finite = [(x[np.isfinite(y)], y[np.isfinite(y)]) for x, y in pts]
    allx = np.concatenate([x for x, _ in finite] + [np.zeros(1)])
    ally = np.concatenate([y for _, y in finite] + [np.zeros(1)])
    x_lo, x_hi = allx.min(), max(allx.max(), allx.min() + 1e-9)
    y_lo, y_hi = ally.min(), max(ally.max(), ally.min() + 1e-9)
    sx = lambda x: margin + (x - x_lo) / (x_hi - x_lo) * (width - 2 * margin)
    sy = lambda y: height - margin - (y - y_lo) / (y_hi - y_lo) * (height - 2 * margin)
    img[margin:height - margin, [margin, width - margin]] = 0
    img[[margin, height - margin], margin:width - margin] = 0
    for k, (x, y) in enumerate(finite):
        c = COLOURS[k % len(COLOURS)]
        for i in range(len(x) - 1):
            _line(img, sx(x[i]), sy(y[i]), sx(x[i + 1]), sy(y[i + 1]), c)
        if len(x) == 1:
            img[int(sy(y[0])) - 2:int(sy(y[0])) + 3, int(sx(x[0])) - 2:int(sx(x[0])) + 3] = c
        img[8:14, width - margin - 20 * (len(finite) - k):width - margin - 20 * (len(finite) - k) + 14] = c
    save_png(path, img)
