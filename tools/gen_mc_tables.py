"""Generate csrc/marching_cubes/mc_tables.h: a topologically consistent marching-cubes case table.

Conventions (shared with csrc/marching_cubes/mc_cell.h):
- A cell's corner c has offsets (bx, by, bz) = (c & 1, c >> 1 & 1, c >> 2 & 1) along (x, y, z),
  where x is the array's last axis, y the middle and z the first.
- Edge e = 4 * axis + j joins the two corners that differ only along `axis` (0 = x, 1 = y,
  2 = z); j packs the other two offsets, lower axis first.
- A corner is inside when its value is > level; case index = sum(inside(c) << c).
- Vertices are written in array-axis order (z, y, x), a reflection of (x, y, z): triangles are
  wound so that the right-hand normal in (z, y, x) coordinates points toward lower values.

The table is built rather than transcribed. On each of the cube's faces the crossed edges are
joined by segments; a face with two diagonal inside corners ("ambiguous face") always separates
the inside corners. Because the rule depends only on the face's four corners, the two cells
sharing a face draw the same segments, so closed surfaces come out watertight. Segments are
oriented so that normals (right-hand rule) point toward lower values, chained into loops, and each
loop is triangulated without a diagonal between two vertices on one cube face (such a diagonal
could be drawn by the neighbouring cell too, giving an edge with four triangles).

Run: python tools/gen_mc_tables.py [--check]
"""
import pathlib
import sys

import numpy as np

HEADER = pathlib.Path(__file__).resolve().parents[1] / "csrc" / "marching_cubes" / "mc_tables.h"


def corner_pos(c):
    return np.array([c & 1, (c >> 1) & 1, (c >> 2) & 1], dtype=float)


def edge_corners(e):
    axis, j = divmod(e, 4)
    others = [a for a in range(3) if a != axis]
    base = 0
    for bit, a in enumerate(others):
        if (j >> bit) & 1:
            base |= 1 << a
    return base, base | (1 << axis)


EDGES = [edge_corners(e) for e in range(12)]
EDGE_OF = {frozenset(p): e for e, p in enumerate(EDGES)}


def faces_of_cube():
    """Each face: (outward normal, corners in cyclic order)."""
    out = []
    for axis in range(3):
        u, v = [a for a in range(3) if a != axis]
        for side in (0, 1):
            cyc = []
            for bu, bv in ((0, 0), (1, 0), (1, 1), (0, 1)):
                cyc.append((side << axis) | (bu << u) | (bv << v))
            n = np.zeros(3)
            n[axis] = 1.0 if side else -1.0
            out.append((n, cyc))
    return out


FACES = faces_of_cube()
EDGE_FACES = {e: [f for f, (_, cyc) in enumerate(FACES) if set(EDGES[e]) <= set(cyc)] for e in range(12)}


def mid(e):
    a, b = EDGES[e]
    return 0.5 * (corner_pos(a) + corner_pos(b))


def face_segments(case, normal, cyc):
    inside = [(case >> c) & 1 for c in cyc]
    edges = [EDGE_OF[frozenset((cyc[i], cyc[(i + 1) % 4]))] for i in range(4)]  # edge i joins cyc i, i+1
    crossed = [i for i in range(4) if inside[i] != inside[(i + 1) % 4]]
    segs = []
    if len(crossed) == 2:
        segs.append((edges[crossed[0]], edges[crossed[1]]))
    elif len(crossed) == 4:  # ambiguous face: cut off each inside corner on its own
        for i in range(4):
            if inside[i]:
                segs.append((edges[(i - 1) % 4], edges[i]))
    oriented = []
    for a, b in segs:
        # the inside end of edge a, seen from the segment's midpoint
        ca = [c for c in EDGES[a] if (case >> c) & 1][0]
        w = corner_pos(ca) - 0.5 * (mid(a) + mid(b))
        if np.dot(np.cross(mid(b) - mid(a), normal), w) > 0:
            oriented.append((a, b))
        else:
            oriented.append((b, a))
    return oriented


def share_face(a, b):
    return bool(set(EDGE_FACES[a]) & set(EDGE_FACES[b]))


def triangulations(poly):
    """All triangulations of a polygon (list of edge ids), yielded in a deterministic order."""
    if len(poly) < 3:
        yield []
        return
    if len(poly) == 3:
        yield [tuple(poly)]
        return
    a, b = poly[0], poly[-1]
    for k in range(1, len(poly) - 1):
        for left in triangulations(poly[: k + 1]):
            for right in triangulations(poly[k:]):
                yield left + [(a, poly[k], b)] + right


def diagonals_ok(poly, tris):
    n = len(poly)
    pos = {v: i for i, v in enumerate(poly)}
    for t in tris:
        for u, v in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            d = abs(pos[u] - pos[v])
            if d not in (1, n - 1) and share_face(u, v):
                return False
    return True


def triangulate(loop):
    # Prefer a fan (first valid start vertex in loop order), else any valid triangulation.
    for s in range(len(loop)):
        poly = loop[s:] + loop[:s]
        fan = [(poly[0], poly[i], poly[i + 1]) for i in range(1, len(poly) - 1)]
        if diagonals_ok(poly, fan):
            return fan
    for tris in triangulations(loop):
        if diagonals_ok(loop, tris):
            return tris
    raise RuntimeError(f"no valid triangulation for loop {loop}")


def case_triangles(case):
    nxt = {}
    for normal, cyc in FACES:
        for a, b in face_segments(case, normal, cyc):
            assert a not in nxt, (case, a)
            nxt[a] = b
    assert sorted(nxt) == sorted(nxt.values()), case
    tris, seen = [], set()
    for start in sorted(nxt):
        if start in seen:
            continue
        loop, e = [], start
        while e not in seen:
            seen.add(e)
            loop.append(e)
            e = nxt[e]
        tris += triangulate(loop)
    return tris


def check_orientation(table):
    """Every triangle's normal (from edge midpoints) must point from inside toward outside."""
    for case, tris in enumerate(table):
        for t in tris:
            p = [mid(e)[::-1] for e in t]  # (z, y, x) output order
            n = np.cross(p[1] - p[0], p[2] - p[0])
            descent = np.zeros(3)
            for e in t:
                a, b = EDGES[e]
                cin, cout = (a, b) if (case >> a) & 1 else (b, a)
                descent += (corner_pos(cout) - corner_pos(cin))[::-1]
            assert np.dot(n, descent) > 0, (case, t)


def build():
    # Loops are oriented for (x, y, z); reversing each triangle orients it for (z, y, x).
    table = [[(a, c, b) for a, b, c in case_triangles(case)] for case in range(256)]
    check_orientation(table)
    return table


def render(table):
    counts = [len(t) for t in table]
    offsets = [0]
    for c in counts:
        offsets.append(offsets[-1] + 3 * c)
    flat = [e for tris in table for t in tris for e in t]
    rows = lambda xs, per: ",\n  ".join(", ".join(str(x) for x in xs[i : i + per]) for i in range(0, len(xs), per))
    return f"""// Generated by tools/gen_mc_tables.py; do not edit. Conventions are in that file.
#pragma once

// Triangles of each of the 256 cases: case c's triangles are edge triples
// VRN_MC_TRI_EDGES[VRN_MC_TRI_OFFSETS[c] .. VRN_MC_TRI_OFFSETS[c + 1]).
#define VRN_MC_MAX_TRIS {max(counts)}
#define VRN_MC_NUM_TRI_EDGES {len(flat)}
#define VRN_MC_TRI_OFFSETS_INIT {{ \\
  {rows(offsets, 16).replace(chr(10), ' ' + chr(92) + chr(10))} }}
#define VRN_MC_TRI_EDGES_INIT {{ \\
  {rows(flat, 24).replace(chr(10), ' ' + chr(92) + chr(10))} }}
"""


def main():
    text = render(build())
    if "--check" in sys.argv:
        if HEADER.read_text() != text:
            sys.exit(f"{HEADER} is stale: run python tools/gen_mc_tables.py")
        return
    HEADER.parent.mkdir(parents=True, exist_ok=True)
    HEADER.write_text(text)
    print(f"wrote {HEADER}")


if __name__ == "__main__":
    main()
