"""`vrnfast prepare`: 300W-LP / AFLW2000-3D style .jpg + .mat pairs rendered from a small random 3DMM
saved in BFM.mat's layout, with known parameters, and the real 300W-LP sample's annotation."""
import json
import math
import os
import shutil

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from vrnfast.cli import main
from vrnfast.data import FaceDataset
from vrnfast.data.threeddfa import FormatError, find_pairs, load_bfm, read_annotation, rotation_3ddfa

from helpers import WLP_SAMPLE, needs_wlp_sample
from helpers.voxels import brute_force

REAL = WLP_SAMPLE
H = W = 450


def face_model(seed=0, grid=41):
    """A face-like open height field (model frame: y up, +z out of the face, micrometres), a random
    199 + 29 component basis, and 68 keypoints (30 the nose tip, 36 / 45 the outer eye corners)."""
    rng = np.random.default_rng(seed)
    xs = np.linspace(-9e4, 9e4, grid)
    ys = np.linspace(-1.1e5, 9e4, grid)
    x, y = np.meshgrid(xs, ys)
    r2 = x ** 2 + (y + 1e4) ** 2
    z = 8e4 * np.exp(-r2 / (2 * 7e4 ** 2)) + 4e4 * np.exp(-(x ** 2 + y ** 2) / (2 * 1.5e4 ** 2))
    verts = np.stack([x, y, z], -1).reshape(-1, 3)
    idx = np.arange(grid * grid).reshape(grid, grid)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    tri = np.concatenate([np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)])
    centre = grid // 2
    kpt = list(rng.choice(idx[6:-10, 6:-6].ravel(), 68, replace=False))
    kpt[30] = idx[centre + 1, centre]  # the nose tip (y of row centre + 1 is ~0)
    kpt[36], kpt[45] = idx[centre + 7, centre - 10], idx[centre + 7, centre + 10]
    n3 = verts.size
    fields = dict(shapeMU=verts.reshape(-1, 1) - 0.0, expMU=rng.normal(0, 800, (n3, 1)),
                  shapePC=rng.normal(0, 1, (n3, 199)) / math.sqrt(n3), shapeEV=np.ones((199, 1)),
                  expPC=rng.normal(0, 1, (n3, 29)) * 40, expEV=np.ones((29, 1)),
                  tri=(tri.T + 1).astype(np.float64), kpt_ind=(np.array(kpt)[None] + 1).astype(np.float64))
    fields["shapeMU"] = fields["shapeMU"] - fields["expMU"]  # the mean shape is shapeMU + expMU
    return fields, tri, np.array(kpt)


def std_rotation(pitch, yaw, roll):
    """(Rz(roll) Ry(yaw) Rx(pitch))^T with the usual right-handed matrices: 3DDFA's rotation."""
    cx, sx, cy, sy, cz, sz = (f(a) for a in (pitch, yaw, roll) for f in (math.cos, math.sin))
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return (rz @ ry @ rx).T


def expected_vertices(fields, shape_para, exp_para, pose):
    """The fitted mesh, written independently: MATLAB-style (1-based, y up) X, then vrnfast's
    0-based image pixels with z away from the camera."""
    mu = (fields["shapeMU"] + fields["expMU"]).ravel()
    v = (mu + fields["shapePC"] @ shape_para + fields["expPC"] @ exp_para).reshape(-1, 3)
    pitch, yaw, roll, tx, ty, tz, s = pose
    x = s * v @ std_rotation(pitch, yaw, roll).T + [tx, ty, tz]
    return np.stack([x[:, 0] - 1, H - x[:, 1], -x[:, 2]], 1), x


def write_pair(folder, name, fields, kpt, rng, pose, aflw=False):
    shape_para = np.zeros(199)
    shape_para[:10] = rng.normal(0, 2e4, 10)
    exp_para = rng.uniform(-1, 1, 29)
    verts, x = expected_vertices(fields, shape_para, exp_para, pose)
    img = np.zeros((H, W, 3), np.uint8)
    img[..., 2] = 60
    for px, py in np.rint(verts[kpt, :2]).astype(int):  # red dots on the landmarks
        img[max(py - 3, 0):py + 4, max(px - 3, 0):px + 4] = (255, 0, 0)
    Image.fromarray(img).save(folder / f"{name}.jpg", quality=95)
    mat = dict(Pose_Para=np.float32(pose)[None], Shape_Para=shape_para[:, None], Exp_Para=exp_para[:, None],
               pt2d=np.stack([x[kpt, 0], H + 1 - x[kpt, 1]]), roi=np.int16([[53, -166, 638, 419]]))
    if aflw:
        mat["pt3d_68"] = np.stack([x[kpt, 0], H + 1 - x[kpt, 1], x[kpt, 2]]).astype(np.float32)
        mat["pt2d"] = -np.ones((2, 21))
    savemat(folder / f"{name}.mat", mat)
    return verts


POSES = [(-0.1, -0.7, 0.05, 230, 220, -80, 0.0011), (0.2, 0.3, -0.3, 210, 240, 10, 0.0012),
         (0.0, 1.2, 0.1, 240, 230, 0, 0.0010)]


@pytest.fixture
def release(tmp_path):
    fields, tri, kpt = face_model()
    savemat(tmp_path / "BFM.mat", {"model": fields})
    root = tmp_path / "300W_LP"
    (root / "IBUG").mkdir(parents=True)
    (root / "landmarks" / "IBUG").mkdir(parents=True)
    (root / "landmarks" / "IBUG" / "IBUG_x_pts.mat").write_bytes(b"not ours")  # the release's 2-D points: ignored
    rng = np.random.default_rng(1)
    truth = {f"IBUG_img_{k}": write_pair(root / "IBUG", f"IBUG_img_{k}", fields, kpt, rng, pose)
             for k, pose in enumerate(POSES)}
    return dict(root=root, bfm=tmp_path / "BFM.mat", fields=fields, tri=tri, kpt=kpt, truth=truth, tmp=tmp_path)


def prepare_cli(release, out, *extra):
    main(["prepare", "300wlp", "--root", str(release["root"]), "--bfm", str(release["bfm"]), "--out", str(out),
          "--preset", "tiny", "--workers", "1", *extra])


def test_prepare_recovers_the_known_meshes_landmarks_and_volumes(release):
    out = release["tmp"] / "out"
    prepare_cli(release, out)
    ds = FaceDataset(out, strict=True)
    assert ds.image_size == 64 and ds.depth == 64 and sorted(ds.names) == sorted(release["truth"])
    model = load_bfm(release["bfm"])
    region = model.face_region()
    assert 0 < len(region) < model.n
    for i in range(len(ds)):
        s = ds[i]
        truth = release["truth"][s["name"]]
        # the prepared face is the known mesh under one similarity: a scale for all three axes and
        # a shift (the crop, and the depth centring)
        want = truth[region]
        a = np.c_[want.reshape(-1, 1), np.kron(np.ones((len(want), 1)), np.eye(3))]
        coef, *_ = np.linalg.lstsq(a, s["face_verts"].reshape(-1).astype(np.float64), rcond=None)
        np.testing.assert_allclose(a @ coef, s["face_verts"].reshape(-1), atol=2e-3)
        scale, shift = coef[0], coef[1:]
        assert scale > 0
        # the landmarks are the keypoints under the same map, and land on the rendered red dots
        np.testing.assert_allclose(s["landmarks"], truth[release["kpt"]] * scale + shift, atol=2e-3)
        px, py = np.rint(s["landmarks"][:, :2]).astype(int).T
        ok = (px >= 0) & (px < 64) & (py >= 0) & (py < 64)
        red = s["image"][0, py[ok], px[ok]].astype(int) - s["image"][2, py[ok], px[ok]]
        assert ok.mean() > 0.9 and np.median(red) > 60
        # VRN's crop: the landmark box centred, its sqrt(w h) 90 of 192 pixels
        lo, hi = s["landmarks"][:, :2].min(0), s["landmarks"][:, :2].max(0)
        np.testing.assert_allclose((lo + hi) / 2, 31.5, atol=1e-3)
        assert math.sqrt(np.prod(hi - lo)) == pytest.approx(64 * 90 / 192, rel=1e-4)
        # the volume: the whole fitted mesh's ray-parity voxelisation (brute force), filled
        # behind each column's first crossing
        mesh = release["truth"][s["name"]] * scale + shift
        assert mesh[:, 2].min() >= 0 and mesh[:, 2].max() <= 63
        ref = np.maximum.accumulate(brute_force(mesh, release["tri"], (64, 64, 64)), axis=0)
        assert (s["volume"] != ref).mean() < 1e-4 and s["volume"].sum() > 1000
        # the pose, in degrees: yaw, pitch, roll
        pose = POSES[int(s["name"][-1])]
        np.testing.assert_allclose(s["pose"], np.rad2deg([pose[1], pose[0], pose[2]]), rtol=1e-5)


def test_volume_fills_behind_the_face(release):
    """Every column through the face is filled from the face's front surface to the volume's back."""
    out = release["tmp"] / "out"
    prepare_cli(release, out, "--limit", "1")
    vol = FaceDataset(out)[0]["volume"].astype(bool)
    columns = vol.any(0)
    first = vol.argmax(0)
    assert columns.sum() > 500
    assert all(vol[first[h, w]:, h, w].all() for h, w in zip(*np.nonzero(columns)))


def test_resume_skips_work_and_broken_files_are_reported(release, capsys):
    out = release["tmp"] / "out"
    root = release["root"] / "IBUG"
    shutil.copy(root / "IBUG_img_0.jpg", root / "no_mat.jpg")
    shutil.copy(root / "IBUG_img_0.mat", root / "no_image.mat")
    (root / "bad_image.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    shutil.copy(root / "IBUG_img_0.mat", root / "bad_image.mat")
    shutil.copy(root / "IBUG_img_1.jpg", root / "bad_mat.jpg")
    (root / "bad_mat.mat").write_bytes(b"MATLAB? no")
    fields, _, kpt = face_model()
    write_pair(root, "outside", fields, kpt, np.random.default_rng(3), (0, 0, 0, 5000, 5000, 0, 0.001))
    prepare_cli(release, out)
    err = capsys.readouterr()
    report = json.loads((out / "prepare-report.json").read_text())
    reasons = dict(report["skipped"])
    assert set(reasons) == {"no_mat", "no_image", "bad_image", "bad_mat", "outside"}
    assert reasons["no_mat"] == "missing .mat" and reasons["no_image"] == "missing image"
    assert reasons["bad_image"].startswith("unreadable image") and "bad_mat.mat" in reasons["bad_mat"]
    assert reasons["outside"].startswith("face outside the image")
    assert "skipped bad_mat: unreadable .mat" in err.err and "3 faces written" in err.out
    assert report["written"] == 3 and len(FaceDataset(out)) == 3
    assert report["landmark_error_px_mean"] < 1e-3  # the inner points of pt2d: the model's keypoints
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.npz")}
    prepare_cli(release, out)  # again: nothing to redo
    assert "0 faces written, 3 already there" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.npz")} == stamps


def test_aflw2000_layout_and_its_landmark_check(tmp_path, capsys):
    fields, _, kpt = face_model(seed=4)
    savemat(tmp_path / "BFM.mat", fields)  # fields at the top level: also accepted
    root = tmp_path / "AFLW2000"
    root.mkdir()
    rng = np.random.default_rng(5)
    for k, pose in enumerate(POSES[:2]):
        write_pair(root, f"image{k:05d}", fields, kpt, rng, pose, aflw=True)
    main(["prepare", "aflw2000", "--root", str(root), "--bfm", str(tmp_path / "BFM.mat"), "--out",
          str(tmp_path / "out"), "--preset", "tiny", "--workers", "2"])
    out = capsys.readouterr().out
    assert "2 faces written" in out
    report = json.loads((tmp_path / "out" / "prepare-report.json").read_text())
    assert report["landmark_error_px_mean"] < 1e-3  # the model's keypoints are AFLW2000's pt3d_68
    ann = read_annotation(root / "image00001.mat")
    assert ann.pt3d.shape == (68, 3) and ann.pt2d.shape == (21, 2)


def test_rotation_is_3ddfa_s():
    for angles in [(0.3, -0.7, 0.2), (-1.0, 1.4, -0.5)]:
        np.testing.assert_allclose(rotation_3ddfa(*angles), std_rotation(*angles), atol=1e-12)


def test_bad_bfm_files(tmp_path, release):
    fields = dict(release["fields"])
    del fields["expPC"]
    savemat(tmp_path / "no_exp.mat", fields)
    with pytest.raises(FormatError, match="no field 'expPC'"):
        load_bfm(tmp_path / "no_exp.mat")
    fields = dict(release["fields"])
    fields["shapePC"] = fields["shapePC"][:-3]
    savemat(tmp_path / "short.mat", fields)
    with pytest.raises(FormatError, match="shapePC must have .* rows like shapeMU"):
        load_bfm(tmp_path / "short.mat")
    fields = dict(release["fields"])
    fields["tri"] = fields["tri"] - 1  # 0-based: not MATLAB's
    savemat(tmp_path / "zero_based.mat", fields)
    with pytest.raises(FormatError, match="1-based"):
        load_bfm(tmp_path / "zero_based.mat")
    fields = dict(release["fields"])
    fields["kpt_ind"] = fields["kpt_ind"][:, :60]
    savemat(tmp_path / "kpt.mat", fields)
    with pytest.raises(FormatError, match="kpt_ind must be 68"):
        load_bfm(tmp_path / "kpt.mat")
    with pytest.raises(SystemExit, match="no such file"):
        main(["prepare", "300wlp", "--root", str(release["root"]), "--bfm", str(tmp_path / "none.mat"),
              "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit, match="no such directory"):
        main(["prepare", "300wlp", "--root", str(tmp_path / "none"), "--bfm", str(release["bfm"]),
              "--out", str(tmp_path / "o")])
    fields = dict(release["fields"])
    fields["expPC"] = fields["expPC"][:, :10]  # another expression basis
    savemat(tmp_path / "exp10.mat", fields)
    with pytest.raises(SystemExit, match="no sample could be prepared"):
        main(["prepare", "300wlp", "--root", str(release["root"]), "--bfm", str(tmp_path / "exp10.mat"),
              "--out", str(tmp_path / "o"), "--preset", "tiny", "--workers", "1"])
    report = json.loads((tmp_path / "o" / "prepare-report.json").read_text())
    assert all("Exp_Para has 29 values, the BFM's basis 10" in r for _, r in report["skipped"])


@needs_wlp_sample
def test_real_300w_lp_annotation_is_read():
    ann = read_annotation(REAL / "IBUG_image_008_1_0.mat")
    assert ann.pose.shape == (7,) and ann.shape_para.shape == (199,) and ann.exp_para.shape == (29,)
    yaw, pitch, roll = ann.angles_degrees
    assert yaw == pytest.approx(-44.0, abs=0.1) and abs(pitch) < 10 and abs(roll) < 5
    assert ann.pt2d.shape == (68, 2) and ann.pt3d is None
    with Image.open(REAL / "IBUG_image_008_1_0.jpg") as im:
        w, h = im.size
    assert (ann.pt2d > 0).all() and (ann.pt2d[:, 0] < w).all() and (ann.pt2d[:, 1] < h).all()
    pairs = find_pairs(REAL)
    assert [p[0] for p in pairs] == ["IBUG_image_008_1_0"]


def test_train_and_evaluate_read_the_prepared_data_unchanged(release, tiny_checkpoint, tmp_path, capsys):
    out = release["tmp"] / "out"
    prepare_cli(release, out)
    main(["evaluate", "--checkpoint", str(tiny_checkpoint), "--data", str(out), "--json", str(tmp_path / "e.json")])
    r = json.loads((tmp_path / "e.json").read_text())
    assert r["n"] == 3 and sum(b["n"] for b in r["yaw_bins"].values()) == 3
    assert r["yaw_bins"]["60-90"]["n"] == 1  # the 69-degree face
    main(["train", "--data", str(out), "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "3",
          "--workers", "0"])
    assert "training vrn (tiny) on " + str(out) in capsys.readouterr().out


@needs_wlp_sample
@pytest.mark.skipif(not os.environ.get("VRNFAST_BFM"),
                    reason="set VRNFAST_BFM to a BFM.mat (not redistributable, so not shipped) to run")
def test_real_sample_with_a_real_bfm(tmp_path, capsys):
    """With the real model, the fitted keypoints must land on the sample's own inner landmarks."""
    main(["prepare", "300wlp", "--root", str(REAL), "--bfm", os.environ["VRNFAST_BFM"], "--out",
          str(tmp_path / "out"), "--workers", "1"])
    report = json.loads((tmp_path / "out" / "prepare-report.json").read_text())
    assert report["written"] == 1 and report["landmark_error_px_mean"] < 5
    model = load_bfm(os.environ["VRNFAST_BFM"])
    assert model.n == 53215 and 18_000 < len(model.face_region()) < 20_000


def test_ctrl_c_ends_a_run_of_workers_quietly_and_it_resumes(release, tmp_path, sigint):
    """SIGINT to the command's process group, as a terminal's Ctrl-C sends it, while two worker
    processes prepare: one line saying how many faces are there, exit status 130, no worker's
    traceback, no partial file; the same command then prepares the rest."""
    import re
    import signal
    import subprocess
    import sys
    import time

    ibug = release["root"] / "IBUG"
    for k in range(30):  # copies of the three faces: enough work to be interrupted on the way
        for n in range(3):
            for ext in (".jpg", ".mat"):
                shutil.copy(ibug / f"IBUG_img_{n}{ext}", ibug / f"IBUG_copy{k}_{n}{ext}")
    out = tmp_path / "out"
    args = ["prepare", "300wlp", "--root", str(release["root"]), "--bfm", str(release["bfm"]), "--out", str(out),
            "--preset", "tiny"]
    proc = subprocess.Popen([sys.executable, "-m", "vrnfast", *args, "--workers", "2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=sigint)
    deadline = time.monotonic() + 120
    while not list(out.glob("*.npz")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    done = re.fullmatch(rf"vrnfast prepare: interrupted; (\d+) faces are prepared in {re.escape(str(out))}; the same "
                        r"command goes on from there", err.strip().splitlines()[-1])
    assert done, err
    present = sorted(out.glob("*.npz"))
    assert int(done.group(1)) == len(present) and 0 < len(present) < 93
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no partial file
    main([*args, "--workers", "1"])
    assert len(FaceDataset(out, strict=True)) == 93
