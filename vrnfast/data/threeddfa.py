"""300W-LP and AFLW2000-3D (the 3DDFA releases of Zhu et al., CVPR 2016) and the Basel Face Model:
from the files as distributed to the on-disk dataset format (`vrnfast prepare`).

Conventions (those of the 3DDFA code that fitted the annotations; face3d documents the layout):
- BFM.mat (face3d's layout, fields at the top level or in a struct `model`): shapeMU (3n, 1) and
  expMU (3n, 1), interleaved x0, y0, z0, x1, ...; shapePC (3n, 199); expPC (3n, 29); tri
  (3, T) or (T, 3), 1-based (MATLAB); kpt_ind (68,), 1-based. n = 53215 for the 3DDFA BFM.
  The model's frame: y up, +z out of the face, units of micrometres.
- vertices = shapeMU + expMU + shapePC @ Shape_Para + expPC @ Exp_Para (no eigenvalue scaling;
  the expression mean belongs to the mean shape).
- Pose_Para = (pitch, yaw, roll in radians, tx, ty, tz, s): X = s R v + t with R = Rx Ry Rz of
  3DDFA's matrices (each the transpose of the usual one), i.e. R = (Rz(roll) Ry(yaw) Rx(pitch))^T
  in the usual right-handed form.
- Orthographic projection; X's y is measured from the image's bottom and the files' landmarks are
  MATLAB's 1-based pixels: (X_x, h + 1 - X_y). In vrnfast's 0-based pixels with z away from the
  camera: (x, y, z) = (X_x - 1, h - X_y, -X_z).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import TMP_MARK, atomic_write, load_image
from .crop import VRN_FACE_FRACTION, face_crop, landmark_box

# The face region: within this many outer interocular distances of the nose tip. On 3DDFA's mean
# shape (its released mean-shape files; no BFM ships here) that is 19,000 of the 53215 vertices,
# the ~19k the VRN paper counts (the authors' own mask is not distributed).
FACE_REGION_RADIUS = 1.02


class FormatError(ValueError):
    """A BFM or annotation file that is not in the expected layout, named in the message."""


class SkipSample(Exception):
    """A sample that cannot be prepared; the message is the reason, for the report."""


# ---- the morphable model ------------------------------------------------------------------------

@dataclass
class MorphableModel:
    mean: np.ndarray      # (3n,) float32, interleaved: shapeMU + expMU
    shape_pc: np.ndarray  # (3n, S) float32
    exp_pc: np.ndarray    # (3n, E) float32
    tri: np.ndarray       # (T, 3) int32, 0-based
    kpt_ind: np.ndarray   # (68,) int64, 0-based

    @property
    def n(self):
        return self.mean.shape[0] // 3

    def vertices(self, shape_para, exp_para) -> np.ndarray:
        """(n, 3) float64 vertices in the model's frame."""
        # float32 products: float64 parameters would make numpy convert the whole basis (~250 MB)
        # for every face; float32 keeps ~7 digits, far below a pixel
        offset = self.shape_pc @ shape_para.astype(np.float32) + self.exp_pc @ exp_para.astype(np.float32)
        return (self.mean.astype(np.float64) + offset).reshape(-1, 3)

    def face_region(self, radius=FACE_REGION_RADIUS) -> np.ndarray:
        """Indices of the face region the NME counts: the mean shape's vertices within `radius`
        outer interocular distances (landmarks 36, 45) of the nose tip (landmark 30); ~19k of the
        3DDFA BFM's 53215 at the default, the count the VRN paper gives."""
        v = self.mean.reshape(-1, 3).astype(np.float64)
        k = self.kpt_ind
        interocular = np.linalg.norm(v[k[36]] - v[k[45]])
        return np.flatnonzero(np.linalg.norm(v - v[k[30]], axis=1) <= radius * interocular)


def _field(fields, name, path):
    if name not in fields:
        raise FormatError(f"{path}: no field {name!r} (a BFM.mat in face3d's layout holds shapeMU, shapePC, "
                          "expMU, expPC, tri and kpt_ind)")
    return np.asarray(fields[name])


def load_bfm(path) -> MorphableModel:
    """The Basel Face Model with the 3DDFA expression basis from a BFM.mat (see the module's
    docstring); FormatError naming the file and the field for anything else."""
    from scipy.io import loadmat

    path = Path(path)
    if not path.is_file():
        raise FormatError(f"BFM file {path}: no such file")
    try:
        data = loadmat(path)
    except Exception as e:
        raise FormatError(f"BFM file {path}: not a readable .mat file ({type(e).__name__}: {e})") from None
    if "model" in data and "shapeMU" not in data:  # face3d's generate.m saves a struct `model`
        m = data["model"]
        if m.dtype.names is None:
            raise FormatError(f"{path}: 'model' is not a struct")
        data = {name: m[name][0, 0] for name in m.dtype.names}
    shape_mu = _field(data, "shapeMU", path).astype(np.float64).ravel()
    if shape_mu.size % 3 or shape_mu.size == 0:
        raise FormatError(f"{path}: shapeMU must hold 3n values (x, y, z per vertex), got {shape_mu.size}")
    n3 = shape_mu.size
    exp_mu = _field(data, "expMU", path).astype(np.float64).ravel()
    shape_pc = _field(data, "shapePC", path)
    exp_pc = _field(data, "expPC", path)
    for name, a in (("expMU", exp_mu[:, None]), ("shapePC", shape_pc), ("expPC", exp_pc)):
        if a.ndim != 2 or a.shape[0] != n3:
            raise FormatError(f"{path}: {name} must have {n3} rows like shapeMU (3n, n = {n3 // 3} vertices), "
                              f"got shape {a.shape}")
    tri = _field(data, "tri", path)
    if tri.ndim != 2 or 3 not in tri.shape:
        raise FormatError(f"{path}: tri must be (3, T) or (T, 3), got shape {tri.shape}")
    tri = (tri.T if tri.shape[0] == 3 and tri.shape[1] != 3 else tri).astype(np.int64) - 1  # MATLAB: 1-based
    if tri.min() < 0 or tri.max() >= n3 // 3:
        raise FormatError(f"{path}: tri must hold 1-based vertex indices in [1, {n3 // 3}], "
                          f"got [{tri.min() + 1}, {tri.max() + 1}]")
    kpt = _field(data, "kpt_ind", path).astype(np.int64).ravel() - 1
    if kpt.shape != (68,) or kpt.min() < 0 or kpt.max() >= n3 // 3:
        raise FormatError(f"{path}: kpt_ind must be 68 1-based vertex indices, got {kpt.size} values "
                          f"in [{kpt.min(initial=0) + 1}, {kpt.max(initial=0) + 1}]")
    return MorphableModel(mean=(shape_mu + exp_mu).astype(np.float32), shape_pc=shape_pc.astype(np.float32),
                          exp_pc=exp_pc.astype(np.float32), tri=tri.astype(np.int32), kpt_ind=kpt)


# ---- annotations --------------------------------------------------------------------------------

@dataclass
class Annotation:
    pose: np.ndarray          # (7,) pitch, yaw, roll (radians), tx, ty, tz, s
    shape_para: np.ndarray    # (S,)
    exp_para: np.ndarray      # (E,)
    pt2d: np.ndarray | None   # (K, 2) the file's 2-D points, 1-based pixels (68 in 300W-LP, 21 in AFLW2000)
    pt3d: np.ndarray | None   # (68, 3) AFLW2000-3D's pt3d_68, 1-based pixels, z toward the camera

    @property
    def angles_degrees(self):
        """(yaw, pitch, roll) in degrees, the order vrnfast's datasets store."""
        pitch, yaw, roll = np.rad2deg(self.pose[:3])
        return np.array([yaw, pitch, roll], np.float32)


def read_annotation(path) -> Annotation:
    """A 300W-LP / AFLW2000-3D .mat file's fitted parameters and points."""
    from scipy.io import loadmat

    try:
        data = loadmat(path)
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except Exception as e:
        raise FormatError(f"{path}: not a readable .mat file ({type(e).__name__}: {e})") from None
    pose = _field(data, "Pose_Para", path).astype(np.float64).ravel()
    if pose.shape != (7,) or not np.isfinite(pose).all():
        raise FormatError(f"{path}: Pose_Para must be 7 finite numbers (pitch, yaw, roll, tx, ty, tz, s), got {pose}")
    shape_para = _field(data, "Shape_Para", path).astype(np.float64).ravel()
    exp_para = _field(data, "Exp_Para", path).astype(np.float64).ravel()
    for name, p in (("Shape_Para", shape_para), ("Exp_Para", exp_para)):
        if not np.isfinite(p).all():
            raise FormatError(f"{path}: {name} holds non-finite values")
    pt2d = np.asarray(data["pt2d"], np.float64).T if "pt2d" in data else None
    pt3d = np.asarray(data["pt3d_68"], np.float64).T if "pt3d_68" in data else None
    if pt3d is not None and pt3d.shape != (68, 3):
        raise FormatError(f"{path}: pt3d_68 must be (3, 68), got {pt3d.T.shape}")
    return Annotation(pose, shape_para, exp_para, pt2d, pt3d)


def rotation_3ddfa(pitch, yaw, roll) -> np.ndarray:
    """3DDFA's rotation R = Rx Ry Rz, each of its elementary matrices the transpose of the usual."""
    def rx(a):
        c, s = math.cos(a), math.sin(a)
        return np.array([[1, 0, 0], [0, c, s], [0, -s, c]])

    def ry(a):
        c, s = math.cos(a), math.sin(a)
        return np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])

    def rz(a):
        c, s = math.cos(a), math.sin(a)
        return np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])

    return rx(pitch) @ ry(yaw) @ rz(roll)


def fitted_vertices(model: MorphableModel, ann: Annotation, image_height: int) -> np.ndarray:
    """(n, 3) float64 vertices of the fitted face in the image's 0-based pixels (x right, y down)
    and z away from the camera, in pixels."""
    for name, p, pc in (("Shape_Para", ann.shape_para, model.shape_pc), ("Exp_Para", ann.exp_para, model.exp_pc)):
        if p.shape != (pc.shape[1],):
            raise FormatError(f"{name} has {p.size} values, the BFM's basis {pc.shape[1]} components")
    v = model.vertices(ann.shape_para, ann.exp_para)
    pitch, yaw, roll, tx, ty, tz, s = ann.pose
    x = s * v @ rotation_3ddfa(pitch, yaw, roll).T + np.array([tx, ty, tz])
    return np.stack([x[:, 0] - 1.0, image_height - x[:, 1], -x[:, 2]], axis=1)


# ---- one sample ---------------------------------------------------------------------------------

def prepare_sample(model, region, image_path, mat_path, size, depth, face_fraction=VRN_FACE_FRACTION):
    """One image + .mat pair -> the dataset's sample dict (image, volume, landmarks, pose,
    face_verts); SkipSample(reason) when it cannot be made."""
    from ..ops.voxelize import voxelize

    if not Path(mat_path).is_file():
        raise SkipSample("missing .mat")
    if not Path(image_path).is_file():
        raise SkipSample("missing image")
    try:
        ann = read_annotation(mat_path)
    except FormatError as e:
        raise SkipSample(f"unreadable .mat: {e}") from None
    try:
        image = load_image(Path(image_path))
    except ValueError as e:
        raise SkipSample(f"unreadable image: {e}") from None
    ih, iw = image.shape[:2]
    try:
        verts = fitted_vertices(model, ann, ih)
    except FormatError as e:
        raise SkipSample(str(e)) from None
    kpt = verts[model.kpt_ind]
    inside = (kpt[:, 0] >= -0.5) & (kpt[:, 0] <= iw - 0.5) & (kpt[:, 1] >= -0.5) & (kpt[:, 1] <= ih - 0.5)
    if inside.mean() < 0.5:
        raise SkipSample(f"face outside the image ({int(inside.sum())} of 68 landmarks inside)")
    try:  # VRN's crop about the landmarks' box, the one map reconstruct uses too
        crop = face_crop(landmark_box(kpt[:, :2]), (ih, iw), size, face_fraction, name="the landmarks' box")
    except ValueError as e:
        raise SkipSample(str(e)) from None
    vol = crop.from_image(verts)
    zmin, zmax = vol[:, 2].min(), vol[:, 2].max()
    if zmax - zmin > depth - 1:
        raise SkipSample(f"face deeper ({zmax - zmin:.0f} slices) than the volume ({depth})")
    vol[:, 2] += (depth - 1) / 2 - (zmin + zmax) / 2  # the face's depth range centred in the volume
    # the open face surface closed toward the back of the volume along z and filled: ray parity
    # along z over the surface, then everything behind a column's first crossing (where the
    # surface folds over itself, e.g. the far cheek at large yaw, parity alone would leave a gap)
    volume = _fill_behind(voxelize(vol.astype(np.float32), model.tri, (depth, size, size)))
    image = np.ascontiguousarray(crop.resize(image).transpose(2, 0, 1))
    return {"image": image, "volume": volume, "landmarks": vol[model.kpt_ind].astype(np.float32),
            "pose": ann.angles_degrees, "face_verts": vol[region].astype(np.float32),
            "landmark_error": _landmark_error(ann, kpt)}


def _fill_behind(volume):
    """Each column of a (D, H, W) 0/1 volume filled from its first 1 to the end: the cumulative
    maximum along D, written as one comparison (numpy's accumulate along the outer axis is 6x
    slower)."""
    hit = volume.any(0)
    first = np.where(hit, volume.argmax(0), volume.shape[0])
    return (np.arange(volume.shape[0], dtype=np.int32)[:, None, None] >= first).view(np.uint8)


def _landmark_error(ann, kpt):
    """The file's own landmarks against the model's, mean distance in image pixels: a check that
    the BFM and the conventions are the ones the annotations were fitted with. AFLW2000-3D's
    pt3d_68 are the keypoint vertices themselves; 300W-LP's pt2d follow the visible jaw line, so
    only the inner points (17-67: brows, nose, eyes, mouth) are compared. None without either."""
    if ann.pt3d is not None:
        ref, ours = ann.pt3d[:, :2], kpt[:, :2]
    elif ann.pt2d is not None and ann.pt2d.shape == (68, 2):
        ref, ours = ann.pt2d[17:], kpt[17:, :2]
    else:
        return None
    return float(np.linalg.norm(ref - 1.0 - ours, axis=1).mean())  # MATLAB's 1-based pixels


# ---- the whole release ----------------------------------------------------------------------------

def find_pairs(root):
    """[(name, image, mat)] for every image and every .mat under root (300W-LP's landmarks/ folder
    aside), paired by path; a name is the file's stem, or its path joined by "__" when stems
    repeat (300W-LP's IBUG/ and IBUG_Flip/ hold the same stems)."""
    root = Path(root)
    if not root.is_dir():
        raise FormatError(f"--root {root}: no such directory")
    stems = {}
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".mat") and "landmarks" not in p.relative_to(root).parts[:-1]:
            stems.setdefault(p.with_suffix(""), []).append(p)
    counts = {}
    for base in stems:
        counts[base.name] = counts.get(base.name, 0) + 1
    pairs = []
    for base, files in stems.items():
        image = next((f for f in files if f.suffix.lower() != ".mat"), base.with_suffix(".jpg"))
        mat = next((f for f in files if f.suffix.lower() == ".mat"), base.with_suffix(".mat"))
        name = base.name if counts[base.name] == 1 else "__".join(base.relative_to(root).parts)
        pairs.append((name, image, mat))
    return pairs


_WORKER = {}


def _init_worker(bfm_path, size, depth, face_fraction, threads=1):
    from .. import _backend

    _backend.set_num_threads(threads)  # in worker processes, the processes are the parallelism
    model = load_bfm(bfm_path)
    _WORKER.update(model=model, region=model.face_region(), size=size, depth=depth, face_fraction=face_fraction)


def _init_pool_worker(*init):
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it ends the pool
    _init_worker(*init)


def _prepare_one(job):
    from .dataset import write_sample

    name, image, mat, out = job
    w = _WORKER
    try:
        s = prepare_sample(w["model"], w["region"], image, mat, w["size"], w["depth"], w["face_fraction"])
        write_sample(out, name, s["image"], s["volume"], s["landmarks"], s["pose"], s["face_verts"])
    except SkipSample as e:
        return name, str(e), None
    except Exception as e:  # one odd file must not end a run of hours: it is reported by name
        return name, f"error: {type(e).__name__}: {e}", None
    return name, None, s["landmark_error"]


def _check_existing(out: Path, size, depth):
    """A resumed run must write the same sizes as the samples already there."""
    index = out / "index.json"
    if index.is_file():
        meta = json.loads(index.read_text())
        if (meta.get("image_size"), meta.get("depth")) != (size, depth):
            raise FormatError(f"--out {out} holds {meta.get('image_size')}x{meta.get('image_size')}x{meta.get('depth')} "
                              f"samples, not {size}x{size}x{depth}: choose the same --preset, or another --out")
    _remove_partial_files(out)  # an interrupted run's


def _remove_partial_files(out: Path):
    for tmp in out.glob(f".*{TMP_MARK}*"):
        tmp.unlink(missing_ok=True)


def prepare(kind, root, bfm, out, size=192, depth=200, workers=1, limit=None, face_fraction=VRN_FACE_FRACTION,
            progress=True):
    """Writes the dataset of a 3DDFA release under `out` (resumable: samples already written are
    kept) and returns the report: written, present, skipped [(name, reason)], and the mean
    distance of the files' own landmarks to the model's (landmark_error_px_mean). `kind` is
    "300wlp" or "aflw2000" (the same layout). workers > 1 spawns processes: a script calling this
    needs the `if __name__ == "__main__":` guard."""
    from tqdm import tqdm

    from .dataset import write_index

    if kind not in ("300wlp", "aflw2000"):
        raise ValueError(f"kind must be '300wlp' or 'aflw2000', got {kind!r}")
    load_bfm(bfm)  # fail early, in this process, on a bad BFM
    pairs = find_pairs(root)[:limit]
    if not pairs:
        raise FormatError(f"--root {root}: no images or .mat files found")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _check_existing(out, size, depth)
    todo = [(n, i, m, out) for n, i, m in pairs if not (out / f"{n}.npz").is_file()]
    report = {"kind": kind, "root": str(root), "present": len(pairs) - len(todo), "written": 0, "skipped": []}
    errors = []
    init = (bfm, size, depth, face_fraction)

    def collect(results):
        with tqdm(total=len(todo), desc=f"prepare {kind}", unit="face", disable=not progress) as bar:
            for name, reason, landmark_error in results:
                if reason is None:
                    report["written"] += 1
                    if landmark_error is not None:
                        errors.append(landmark_error)
                else:
                    report["skipped"].append((name, reason))
                bar.update()

    if workers <= 1 or len(todo) <= 1:
        from .. import _backend

        threads = _backend.threads_arg()
        _init_worker(*init, threads=threads)  # here, with this process's thread count
        try:
            collect(map(_prepare_one, todo))
        finally:
            _WORKER.clear()
    else:
        import multiprocessing as mp

        try:
            with mp.get_context("spawn").Pool(workers, initializer=_init_pool_worker, initargs=init) as pool:
                collect(pool.imap_unordered(_prepare_one, todo, chunksize=4))
        except KeyboardInterrupt:  # the pool is terminated: its workers' files in writing are partial
            _remove_partial_files(out)
            raise
    names = sorted(n for n, _, _ in pairs if (out / f"{n}.npz").is_file())
    write_index(out, names, size, depth)
    report["landmark_error_px_mean"] = float(np.mean(errors)) if errors else None
    report["skipped"].sort()
    text = json.dumps(report, indent=1)
    atomic_write(out / "prepare-report.json", lambda f: f.write(text.encode()))
    return report
