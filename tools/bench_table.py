"""Markdown tables from a pytest-benchmark JSON: one table per group, vrnfast as the baseline.

    pytest benchmarks/ --benchmark-only --benchmark-json out.json
    python tools/bench_table.py out.json

`pytest benchmarks/` prints the same tables at the end of its run (benchmarks/conftest.py).
"""
import json
import sys

BASELINES = ("vrnfast cpp", "vrnfast")


def ratio(ms, base_ms):
    if base_ms is None:
        return ""
    r = ms / base_ms
    if abs(r - 1) < 1e-9:
        return "baseline"
    r, word = (r, "slower") if r >= 1 else (1 / r, "faster")
    return f"{r:.{2 if r < 10 else 1}f}x {word}"


def mc_header(group, rows):
    host = [b["extra_info"] for b in rows if b["extra_info"].get("impl") != "vrnfast cuda"]
    x = (host or [rows[0]["extra_info"]])[0]  # the header's floor is the host one
    shape = "x".join(map(str, x.get("shape", [])))
    return (f"### {group}: {x.get('dtype')} {shape}, level {x.get('level')}, {x.get('volume_bytes', 0) / 1e6:.1f} MB; "
            f"host read floor {x.get('floor_ms_at_GBps', 0):.2f} ms at {x.get('read_GBps')} GB/s")


def mc_cells(e):
    name = e.get("impl", "")
    if name == "vrnfast cuda":
        name += f" (floor {e['floor_ms_at_GBps']:.3f} ms at {e['read_GBps']} GB/s)"
    return name, [e.get("V", ""), e.get("F", "")]


def machine_line(data) -> str:
    mi = data["machine_info"]
    cpu = mi.get("cpu", {})
    versions = ", ".join(f"{k} {v}" for k, v in mi.get("versions", {}).items())
    return (f"Machine: {cpu.get('brand_raw', mi.get('processor', '?'))}, {cpu.get('count', '?')} cores; "
            f"Python {mi.get('python_version', '?')}; {versions}; {data.get('datetime', '')[:10]}")


def tables(data) -> list[str]:
    """The README's markdown lines for a pytest-benchmark JSON document (already parsed)."""
    lines = [machine_line(data)]
    groups = {}
    for b in data["benchmarks"]:
        groups.setdefault(b["group"], []).append(b)
    for group, benches in groups.items():
        rows = sorted(benches, key=lambda b: b["stats"]["median"])
        impls = [b["extra_info"].get("impl") for b in rows]
        marked = [b["extra_info"]["impl"] for b in rows if b["extra_info"].get("baseline")]  # a suite's own choice
        base_name = next((n for n in marked + list(BASELINES) if n in impls), None)
        base = rows[impls.index(base_name)]["stats"]["median"] * 1e3 if base_name else None
        volume = "volume_bytes" in rows[0]["extra_info"]
        if volume:
            lines += ["", mc_header(group, rows), ""]
            extra_cols = ["V", "F"]
        else:
            e = rows[0]["extra_info"]
            lines += ["", f"### {group}: {'x'.join(map(str, e.get('shape', [])))}; {e.get('note', '')}", ""]
            extra_cols = ["input", "GB/s", "peak extra MB"]
        versus = f"vs {base_name} (median)" if base_name else "ratio"
        lines.append(f"| implementation | threads | median ms | min ms | {versus} | {' | '.join(extra_cols)} |")
        lines.append("|---|---|---:|---:|---|" + "---:|" * len(extra_cols))
        for b in rows:
            e, ms = b["extra_info"], b["stats"]["median"] * 1e3
            if volume:
                name, extra = mc_cells(e)
            else:
                name = e.get("impl", b["name"])
                gbps = f"{e['bytes_moved'] / b['stats']['median'] / 1e9:.1f}" if e.get("bytes_moved") else ""
                extra = [e.get("target_dtype", ""), gbps, e.get("peak_extra_MB", "")]
            cells = [name, e.get("threads", ""), f"{ms:.2f}", f"{b['stats']['min'] * 1e3:.2f}", ratio(ms, base), *extra]
            lines.append("| " + " | ".join(map(str, cells)) + " |")
    return lines


def main(path):
    with open(path) as f:
        print("\n".join(tables(json.load(f))))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/bench_table.py BENCH.json")
    main(sys.argv[1])
