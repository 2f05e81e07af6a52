"""The evaluation report (`vrnfast evaluate ... --html report.html`): one self-contained page with
the metrics table beside the mean-shape baseline's, the CED plot, the NMEs per yaw bin, and the
worst faces with their previews."""
from __future__ import annotations

import heapq
import html
import itertools
from pathlib import Path

import numpy as np

from ..viz.pages import png_uri

WORST = 10
PREVIEW_SIZE = 160  # panel height of each worst face's preview


def _nme_key(row) -> float:
    return np.inf if row["nme"] is None else float(row["nme"])  # no surface: the worst of all


class WorstFaces:
    """evaluate()'s on_face hook: keeps the `k` faces of highest NME (a face with no predicted
    surface first), each with its preview (vrnfast.viz.render.preview: input | front | side),
    rendered only when the face enters the k worst."""

    def __init__(self, k=WORST, size=PREVIEW_SIZE):
        self.k, self.size = k, size
        self._heap = []  # (nme, order, entry): the smallest of the kept on top
        self._order = itertools.count()

    def __call__(self, sample, prob, row, z_scale=1.0):
        key = _nme_key(row)
        if len(self._heap) == self.k and key <= self._heap[0][0]:
            return
        entry = {"row": row, "preview": self._preview(sample["image"], prob, z_scale)}
        item = (key, next(self._order), entry)
        (heapq.heappush if len(self._heap) < self.k else heapq.heapreplace)(self._heap, item)

    def _preview(self, image, prob, z_scale):
        from ..viz.render import volume_preview

        return volume_preview(image, prob, self.size, z_scale)

    def worst_first(self) -> list[dict]:
        return [e for _, _, e in sorted(self._heap, key=lambda t: (-t[0], t[1]))]


def _num(v, spec=".4f") -> str:
    return "&ndash;" if v is None else format(v, spec)


def _metrics_rows(result):
    rows = [("NME, mean", result["nme_mean"], result["baseline_nme_mean"], ".4f"),
            ("NME, median", result["nme_median"], result["baseline_nme_median"], ".4f"),
            ("IoU, mean", result["iou_mean"], result["baseline_iou_mean"], ".3f")]
    for key, label in (("landmarks_2d_nme_mean", "landmarks 2-D NME, mean"),
                       ("landmarks_3d_nme_mean", "landmarks 3-D NME, mean")):
        if key in result:
            rows.append((label, result[key], None, ".4f"))
    return "\n".join(f"<tr><th>{label}</th><td>{_num(m, spec)}</td><td>{_num(b, spec)}</td></tr>"
                     for label, m, b, spec in rows)


def _yaw_rows(result):
    return "\n".join(f"<tr><th>{html.escape(name)}&deg;</th><td>{b['n']}</td><td>{_num(b['nme_mean'])}</td>"
                     f"<td>{_num(b['baseline_nme_mean'])}</td><td>{_num(b['iou_mean'], '.3f')}</td></tr>"
                     for name, b in result["yaw_bins"].items())


def _worst_figures(worst):
    figures = []
    for rank, e in enumerate(worst, 1):
        r = e["row"]
        yaw = "" if r.get("yaw") is None else f", yaw {r['yaw']:.0f}&deg;"
        nme = "no surface predicted" if r["nme"] is None else f"NME {r['nme']:.4f}"
        figures.append(f'<figure class="face"><img alt="{html.escape(r["name"])}" src="{png_uri(e["preview"])}">'
                       f'<figcaption><b>{rank}. {html.escape(r["name"])}</b>: {nme} (baseline '
                       f'{_num(r["baseline_nme"])}), IoU {_num(r.get("iou"), ".3f")}{yaw}</figcaption></figure>')
    return "\n".join(figures)


STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1100px; padding: 0 16px;
       color: #1f2328; background: #fff; }
h1 { font-size: 22px; margin-bottom: 4px; } h2 { font-size: 17px; margin-top: 28px; }
.sub { color: #59636e; margin-top: 0; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { padding: 4px 14px; border-bottom: 1px solid #d1d9e0; text-align: right; }
th:first-child { text-align: left; font-weight: 500; } thead th { font-weight: 600; }
.row { display: flex; gap: 32px; flex-wrap: wrap; align-items: flex-start; }
#ced { max-width: 100%; width: 560px; }
.faces { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 14px; }
.face { margin: 0; } .face img { width: 100%; image-rendering: auto; border: 1px solid #d1d9e0; }
figcaption { font-size: 13px; color: #3d444d; }
"""


def report_page(result, ced_png: bytes, worst=()) -> str:
    """The report's HTML: `result` is evaluate()'s dict, `ced_png` the CED plot's PNG bytes,
    `worst` WorstFaces.worst_first()."""
    from ..viz.pages import data_uri

    title = f"vrnfast evaluation: {result['model']} ({result['preset']}) on {Path(str(result['data'])).name}"
    failed = f", {result['n_failed']} with no predicted surface" if result["n_failed"] else ""
    ck = f"checkpoint {html.escape(str(result['checkpoint']))}; " if result.get("checkpoint") else ""
    worst_html = (f"<h2>The {len(worst)} faces of highest NME</h2>\n<p class=\"sub\">Each: the network's input, "
                  f"the predicted surface from the front and from the side.</p>\n<div class=\"faces\" "
                  f"id=\"worst\">\n{_worst_figures(worst)}\n</div>") if worst else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="generator" content="vrnfast">
<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>
<h1>{html.escape(title)}</h1>
<p class="sub">{ck}{result['n']} faces{failed}. NME: mean point-to-surface distance after ICP over the
interocular distance; the baseline is the mean shape of the training faces.</p>
<div class="row">
<div><h2>Metrics</h2>
<table id="metrics"><thead><tr><th></th><th>model</th><th>baseline</th></tr></thead>
<tbody>
{_metrics_rows(result)}
</tbody></table>
<h2>NME per yaw bin</h2>
<table id="yaw"><thead><tr><th>|yaw|</th><th>faces</th><th>model</th><th>baseline</th><th>IoU</th></tr></thead>
<tbody>
{_yaw_rows(result)}
</tbody></table></div>
<div><h2>Cumulative error distribution</h2>
<img id="ced" alt="CED plot of model and baseline" src="{data_uri('image/png', ced_png)}"></div>
</div>
{worst_html}
<script>
  // for a reader of the DOM (the browser tests): the plot decoded to its real size
  const ced = document.getElementById("ced");
  const mark = () => document.body.dataset.ced = ced.naturalWidth + "x" + ced.naturalHeight;
  ced.complete ? mark() : ced.addEventListener("load", mark);
</script>
</body></html>
"""


def save_report(path, result, ced_png_path, worst=()) -> Path:
    """report_page() written to `path` (atomically), the CED plot read from `ced_png_path`."""
    from ..io import atomic_write

    path = Path(path)
    text = report_page(result, Path(ced_png_path).read_bytes(), worst)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
    return path
