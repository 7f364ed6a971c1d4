"""Advisory store: import >= 100,000 realistic OSV records, then time package lookups.

The corpus is generated from the real PyPA advisories in ``shared/advisories/pypa``:
each generated record is a real record with a new id and aliases and its package
renamed (``<name>-<n>-<m>``; the real records keep theirs, so the number of records
per real package name is the real one and the store holds many distinct packages),
and its ECOSYSTEM range versions shifted (``1.2.3`` -> ``1.2.3.post4``), so every
generated record is as large and as nested as a real one.

Measured:
- import: records/s end to end (JSON object -> validated OSV record -> SQLite, committed
  and swapped in), and the store's own share (``StoreBuilder.add`` and commit only);
- lookup: p50 / p99 of ``AdvisoryStore.lookup_affected`` (what the matcher asks for each
  package: the package's own affected entries, decoded) over random REAL package names;
  also ``lookup`` (whole records decoded) and ``lookup_raw`` (JSON strings only);
- the database size.

Goals (issue 4): import >= 20,000 records/s, lookup p99 < 1 ms.

Run: .venv/bin/python bench/bench_advisories.py [--records N] [--lookups N] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "advisories" / "pypa"
GOAL_IMPORT = 20_000.0
GOAL_P99_MS = 1.0


def _load_real(root: Path) -> list[dict[str, Any]]:
    import yaml

    from customhouse.advisories.feeds.osv import _yaml_loader

    loader = _yaml_loader()
    return [
        yaml.load(p.read_text(), Loader=loader) for p in sorted((root / "vulns").rglob("*.yaml"))
    ]


_VERSION = re.compile(r"^\d+(\.\d+)*$")


def _shift(version: str, n: int) -> str:
    return f"{version}.post{n}" if _VERSION.match(version) else version


def generate(real: list[dict[str, Any]], count: int, seed: int = 4) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for i in range(count):
        base = real[i % len(real)]
        rec = json.loads(json.dumps(base))  # a deep copy
        rec["id"] = f"{base['id']}-G{i}"
        rec["aliases"] = [f"CVE-{2000 + i % 25}-{100000 + i}", f"GHSA-gen{i:06d}"]
        rename = i >= len(real)  # the real records keep their names, copies get new ones
        shift = rng.randrange(1, 9)
        for a in rec.get("affected") or []:
            pkg = a.get("package") or {}
            if rename and "name" in pkg:
                pkg["name"] = f"{pkg['name']}-{i // len(real)}-{i % 97}"
                pkg.pop("purl", None)
            for r in a.get("ranges") or []:
                if r.get("type") != "ECOSYSTEM":
                    continue
                for ev in r.get("events") or []:
                    ((k, v),) = ev.items()
                    ev[k] = v if v == "0" else _shift(v, shift)
            if "versions" in a:
                a["versions"] = [_shift(v, shift) for v in a["versions"]]
        out.append(rec)
    return out


def _percentile(sorted_values: list[float], q: float) -> float:
    idx = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[idx]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--lookups", type=int, default=20_000)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args()
    if not (CORPUS / "vulns").is_dir():
        print(f"skip: corpus {CORPUS} is absent (it lives in shared/ beside the repo)")
        return 0
    sys.path.insert(0, str(REPO / "src"))
    from customhouse.advisories.osv import normalize_name, parse_vulnerability
    from customhouse.advisories.store import AdvisoryStore, StoreBuilder

    real = _load_real(CORPUS)
    objs = generate(real, args.records)
    names = sorted(
        {a["package"]["name"] for r in real for a in r.get("affected") or [] if "package" in a}
    )

    with tempfile.TemporaryDirectory(prefix="customhouse-bench-") as tmp:
        db = Path(tmp) / "advisories.db"
        t0 = time.perf_counter()
        with StoreBuilder(db, fresh=True) as b:
            parsed = [parse_vulnerability(o, "bench") for o in objs]
            t_parsed = time.perf_counter()
            b.add(parsed, "bench")
            b.set_source("bench", url="file:///bench")
        t1 = time.perf_counter()
        import_rate = len(objs) / (t1 - t0)
        store_rate = len(objs) / (t1 - t_parsed)
        size = db.stat().st_size

        rng = random.Random(7)
        picks = [rng.choice(names) for _ in range(args.lookups)]
        with AdvisoryStore(db) as store:
            for name in picks[:200]:  # warm the page cache
                store.lookup_affected("PyPI", name)
            timings = []
            hits = 0
            for name in picks:  # what the matcher asks per package: that package's entries
                s = time.perf_counter()
                found = store.lookup_affected("PyPI", name)
                timings.append((time.perf_counter() - s) * 1000.0)
                hits += len(found)
            full_timings = []
            for name in picks[: max(1, len(picks) // 4)]:  # whole records, decoded
                s = time.perf_counter()
                store.lookup("PyPI", name)
                full_timings.append((time.perf_counter() - s) * 1000.0)
            full_timings.sort()
            raw_timings = []
            for name in picks:
                s = time.perf_counter()
                store.lookup_raw("PyPI", name)
                raw_timings.append((time.perf_counter() - s) * 1000.0)
            per_name = [
                len(store.lookup_raw("PyPI", normalize_name("PyPI", n))) for n in names[:2000]
            ]
        timings.sort()
        raw_timings.sort()

    result = {
        "records": len(objs),
        "real_records": len(real),
        "import_records_per_s": round(import_rate),
        "store_add_records_per_s": round(store_rate),
        "lookup_p50_ms": round(_percentile(timings, 0.50), 4),
        "lookup_p99_ms": round(_percentile(timings, 0.99), 4),
        "lookup_max_ms": round(timings[-1], 4),
        "lookup_full_records_p50_ms": round(_percentile(full_timings, 0.50), 4),
        "lookup_full_records_p99_ms": round(_percentile(full_timings, 0.99), 4),
        "lookup_raw_p50_ms": round(_percentile(raw_timings, 0.50), 4),
        "lookup_raw_p99_ms": round(_percentile(raw_timings, 0.99), 4),
        "lookups": len(picks),
        "mean_records_per_lookup": round(hits / len(picks), 2),
        "max_records_per_name": max(per_name),
        "median_records_per_name": statistics.median(per_name),
        "db_bytes": size,
        "db_bytes_per_record": round(size / len(objs)),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"advisory store: {len(objs):,} records generated from {len(real):,} real PyPA records")
    print(
        f"  import       {import_rate:>10,.0f} records/s end to end"
        f"  (goal >= {GOAL_IMPORT:,.0f}: {'met' if import_rate >= GOAL_IMPORT else 'MISSED'})"
    )
    print(f"               {store_rate:>10,.0f} records/s in StoreBuilder.add + commit")
    print(
        f"  lookup       p50 {result['lookup_p50_ms']:.3f} ms, p99 {result['lookup_p99_ms']:.3f} ms,"
        f" max {result['lookup_max_ms']:.3f} ms over {len(picks):,} real names"
        f"  (goal p99 < {GOAL_P99_MS} ms: {'met' if result['lookup_p99_ms'] < GOAL_P99_MS else 'MISSED'})"
    )
    print(
        f"  whole records p50 {result['lookup_full_records_p50_ms']:.3f} ms,"
        f" p99 {result['lookup_full_records_p99_ms']:.3f} ms (AdvisoryStore.lookup: every record decoded)"
    )
    print(
        f"  lookup_raw   p50 {result['lookup_raw_p50_ms']:.3f} ms, p99 {result['lookup_raw_p99_ms']:.3f} ms"
        f"  ({result['mean_records_per_lookup']} records per lookup on average,"
        f" at most {result['max_records_per_name']} for one name)"
    )
    print(f"  database     {size / 1e6:,.1f} MB ({result['db_bytes_per_record']} bytes per record)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
