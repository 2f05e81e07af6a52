"""Markdown tables from a pytest-benchmark JSON: one table per group (volume), vrnfast cpp as baseline.

    pytest benchmarks/ --benchmark-only --benchmark-json out.json
    python tools/bench_table.py out.json
"""
import json
import sys

BASELINE = "vrnfast cpp"


def ratio(ms, base_ms):
    if base_ms is None:
        return ""
    r = ms / base_ms
    if abs(r - 1) < 1e-9:
        return "baseline"
    r, word = (r, "slower") if r >= 1 else (1 / r, "faster")
    return f"{r:.{2 if r < 10 else 1}f}x {word}"


def main(path):
    with open(path) as f:
        data = json.load(f)
    mi = data["machine_info"]
    cpu = mi.get("cpu", {})
    versions = ", ".join(f"{k} {v}" for k, v in mi.get("versions", {}).items())
    print(f"Machine: {cpu.get('brand_raw', mi.get('processor', '?'))}, {cpu.get('count', '?')} cores; "
          f"Python {mi.get('python_version', '?')}; {versions}; {data.get('datetime', '')[:10]}")

    groups = {}
    for b in data["benchmarks"]:
        groups.setdefault(b["group"], []).append(b)
    for group, benches in groups.items():
        rows = sorted(benches, key=lambda b: b["stats"]["median"])
        impl = [b["extra_info"].get("impl") for b in rows]
        base = rows[impl.index(BASELINE)]["stats"]["median"] * 1e3 if BASELINE in impl else None
        host = [b["extra_info"] for b in rows if b["extra_info"].get("impl") != "vrnfast cuda"]
        x = (host or [rows[0]["extra_info"]])[0]  # the header's floor is the host one
        shape = "x".join(map(str, x.get("shape", [])))
        print(f"\n### {group}: {x.get('dtype')} {shape}, level {x.get('level')}, "
              f"{x.get('volume_bytes', 0) / 1e6:.1f} MB; host read floor "
              f"{x.get('floor_ms_at_GBps', 0):.2f} ms at {x.get('read_GBps')} GB/s\n")
        print(f"| implementation | threads | median ms | min ms | vs {BASELINE} (median) | V | F |")
        print("|---|---|---:|---:|---|---:|---:|")
        for b in rows:
            e, ms = b["extra_info"], b["stats"]["median"] * 1e3
            name = e.get("impl", b["name"])
            if name == "vrnfast cuda":
                name += f" (floor {e['floor_ms_at_GBps']:.3f} ms at {e['read_GBps']} GB/s)"
            cells = [name, e.get("threads", ""), f"{ms:.2f}", f"{b['stats']['min'] * 1e3:.2f}",
                     ratio(ms, base), e.get("V", ""), e.get("F", "")]
            print("| " + " | ".join(map(str, cells)) + " |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tools/bench_table.py BENCH.json")
    main(sys.argv[1])
