"""vrnfast.plot: PNGs that decode, show their series, honour ranges and survive bad values."""
import math

import numpy as np
import pytest
from PIL import Image

from vrnfast.plot import COLOURS, ced_curve, nice_ticks, plot_ced, plot_lines


def load(path):
    with Image.open(path) as im:
        im.load()
        return im.mode, np.asarray(im)


def colour_mask(img, colour):
    return np.all(img == np.array(colour, np.uint8), axis=-1)


def test_writes_a_decodable_png_of_the_requested_size(tmp_path):
    ep = np.arange(1, 21)
    info = plot_lines(tmp_path / "loss.png", {"train loss": (ep, 1 / ep), "val loss": (ep, 1.2 / ep)},
                      width=500, height=300, title="loss", xlabel="epoch", ylabel="BCE")
    mode, img = load(tmp_path / "loss.png")
    assert mode == "RGB" and img.shape == (300, 500, 3)
    left, top, right, bottom = info.box
    assert 0 < left < right < 500 and 0 < top < bottom < 300
    assert info.labels == ["train loss", "val loss"]
    assert [p.name for p in tmp_path.iterdir()] == ["loss.png"]  # no temp file left behind


def test_positional_call_of_the_old_signature_still_works(tmp_path):
    plot_lines(tmp_path / "a.png", {"x": ([0, 1, 2], [3, 1, 2])}, 320, 200, 20)
    assert load(tmp_path / "a.png")[1].shape == (200, 320, 3)


def test_each_series_is_drawn_in_its_colour_inside_the_plot_area(tmp_path):
    x = np.linspace(0, 10, 50)
    info = plot_lines(tmp_path / "p.png", {"a": (x, np.sin(x)), "b": (x, np.cos(x)), "c": (x, 0.5 * x - 2)})
    _, img = load(tmp_path / "p.png")
    left, top, right, bottom = info.box
    for k in range(3):
        rows, cols = np.nonzero(colour_mask(img, COLOURS[k]))
        assert len(rows) > 200, f"series {k} missing"  # a legend swatch alone has 66 pixels
        assert rows.min() >= top and rows.max() <= bottom and cols.min() >= left and cols.max() <= right


def test_explicit_limits_are_honoured_and_data_outside_is_clipped(tmp_path):
    x = np.linspace(0, 10, 101)
    info = plot_lines(tmp_path / "p.png", {"a": (x, x)}, xlim=(0, 5), ylim=(0, 5), legend=None)
    assert info.xlim == (0.0, 5.0) and info.ylim == (0.0, 5.0)
    assert info.xticks[0] >= 0 and info.xticks[-1] <= 5
    _, img = load(tmp_path / "p.png")
    left, top, right, bottom = info.box
    rows, cols = np.nonzero(colour_mask(img, COLOURS[0]))
    assert cols.min() >= left and cols.max() <= right and rows.min() >= top and rows.max() <= bottom
    assert cols.max() >= right - 3 and rows.min() <= top + 3  # the diagonal reaches the far corner


def test_automatic_ranges_cover_the_data_with_round_ticks(tmp_path):
    info = plot_lines(tmp_path / "p.png", {"a": ([1, 2, 3], [0.13, 0.71, 0.4])})
    assert info.xlim[0] <= 1 and info.xlim[1] >= 3 and info.ylim[0] <= 0.13 and info.ylim[1] >= 0.71
    assert info.yticks[0] == pytest.approx(info.ylim[0]) and info.yticks[-1] == pytest.approx(info.ylim[1])


@pytest.mark.parametrize("series", [
    {"nan and inf": ([0, 1, 2, 3, 4], [1.0, np.nan, 2.0, np.inf, -np.inf])},
    {"all nan": ([0, 1], [np.nan, np.nan]), "ok": ([0, 1], [1, 2])},
    {"only nan": ([np.nan], [np.nan])},
    {"one point": ([3], [0.25])},
    {"constant": ([0, 1, 2], [0.5, 0.5, 0.5])},
    {"zeros": ([0, 0], [0, 0])},
    {},
])
def test_degenerate_and_non_finite_data_still_plot(tmp_path, series):
    info = plot_lines(tmp_path / "p.png", series)
    assert all(math.isfinite(v) for v in info.xlim + info.ylim)
    assert info.xlim[0] < info.xlim[1] and info.ylim[0] < info.ylim[1]
    assert load(tmp_path / "p.png")[1].shape == (360, 640, 3)


def test_lone_finite_points_are_visible(tmp_path):
    info = plot_lines(tmp_path / "p.png", {"a": ([0, 1, 2], [np.nan, 1.0, np.nan])}, legend=None)
    _, img = load(tmp_path / "p.png")
    assert np.count_nonzero(colour_mask(img, COLOURS[0])) >= 9
    assert info.ylim[0] < 1.0 < info.ylim[1]


def test_bad_inputs_raise(tmp_path):
    with pytest.raises(ValueError, match="differ in length"):
        plot_lines(tmp_path / "p.png", {"a": ([0, 1, 2], [0, 1])})
    with pytest.raises(ValueError, match="legend"):
        plot_lines(tmp_path / "p.png", {"a": ([0, 1], [0, 1])}, legend="middle")
    with pytest.raises(ValueError, match="limits"):
        plot_lines(tmp_path / "p.png", {"a": ([0, 1], [0, 1])}, xlim=(2, 1))


@pytest.mark.parametrize("lo, hi, expected", [
    (0, 0.1, [0, 0.02, 0.04, 0.06, 0.08, 0.1]),
    (0, 100, [0, 20, 40, 60, 80, 100]),
    (-3, 7, [-2, 0, 2, 4, 6]),
    (0.13, 0.71, [0.2, 0.3, 0.4, 0.5, 0.6, 0.7]),
])
def test_nice_ticks(lo, hi, expected):
    assert nice_ticks(lo, hi) == pytest.approx(expected)


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


def test_plot_ced_axes_and_legend(tmp_path):
    rng = np.random.default_rng(1)
    vrn = rng.gamma(4, 0.012, 300)
    base = np.r_[rng.gamma(4, 0.02, 299), np.nan]
    info = plot_ced(tmp_path / "ced.png", {"VRN": vrn, "mean-shape baseline": base}, x_max=0.1, title="CED")
    assert info.xlim == (0.0, 0.1) and info.ylim == (0.0, 100.0)
    assert info.xticks[0] == 0 and info.xticks[-1] == pytest.approx(0.1)
    assert info.labels == [f"VRN (mean {vrn.mean():.3f})",
                           f"mean-shape baseline (mean {np.nanmean(base):.3f}, 1 failed)"]
    _, img = load(tmp_path / "ced.png")
    assert img.shape == (420, 640, 3)
    left, top, right, bottom = info.box
    for k in range(2):
        rows, cols = np.nonzero(colour_mask(img, COLOURS[k]))
        assert len(rows) > 200 and cols.min() >= left and cols.max() <= right
