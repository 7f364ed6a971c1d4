"""Advisory store: import >= 100,000 realistic OSV records, then time package lookups.

The corpus is generated from the real PyPA advisories in ``shared/advisories/pypa``:
each generated record is a real record with a new id and aliases and its package
renamed (``<name>-<n>-<m>``; the real records keep theirs, so the number of records
per real package name is the real one and the store holds many distinct packages),
and its ECOSYSTEM range versions shifted (``1.2.3`` -> ``1.2.3.post4``), so every
generated record is as large and as nested as a real one.

Measured:
- import: records/s of ``db import`` of the corpus as an osv.dev-style ``all.zip`` (one
  JSON file per record, indented by two spaces as osv.dev's exporter writes them, written
  untimed), end to end: ``customhouse db import`` run in its own process (start-up
  included), entries read, decoded, validated, turned into rows and written by two
  worker processes, indexed, committed and swapped in. This is the figure the goal is
  about: what a user's import takes. Beside it, measured in the same run: the floor (reading and
  JSON-decoding the same entries in one process, nothing else), and the in-memory path
  of the first sessions (objects -> ``parse_vulnerability`` -> ``StoreBuilder``, one
  thread) with the store's own share (``StoreBuilder.add`` and commit);
- lookup: p50 / p99 of ``AdvisoryStore.candidates`` (what the matcher asks for each
  installed package: that package's affected entries, decoded, and whether each entry's
  ``versions`` list holds the installed version, i.e. the version-membership query) over
  random REAL package names, half of them at a version their real records list; also the
  same plus the matcher's range evaluation of every candidate (``+ evaluation``), ``lookup``
  (whole records decoded) and ``lookup_raw`` (JSON strings only);
- the database size.

Goals (issue 4): import >= 20,000 records/s, lookup p99 < 1 ms.

Run: .venv/bin/python bench/bench_advisories.py [--records N] [--lookups N] [--json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from _util import compile_bytecode

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


def _read_floor(archive: Path) -> float:
    """Seconds to read and JSON-decode every entry of ``archive`` in one process, and nothing
    else: the floor under an import of it (no validation, no rows, no database)."""
    import orjson

    from customhouse.advisories.feeds.osv import ImportReport, read_zip_member, zip_entries

    gc.disable()
    t0 = time.perf_counter()
    entries = zip_entries(archive, ImportReport())
    fd = os.open(archive, os.O_RDONLY)
    for e in entries:
        orjson.loads(read_zip_member(fd, e, str(archive))[0])
    os.close(fd)
    elapsed = time.perf_counter() - t0
    gc.enable()
    return elapsed


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
    compile_bytecode()  # the timed command runs the tool, not the compiler (see there)
    sys.path.insert(0, str(REPO / "src"))
    from customhouse.advisories import store as store_module
    from customhouse.advisories.osv import normalize_name, parse_vulnerability
    from customhouse.advisories.store import AdvisoryStore, StoreBuilder

    real = _load_real(CORPUS)
    real_count = len(real)
    objs = generate(real, args.records)
    listed: dict[str, list[str]] = {}
    for r in real:
        for a in r.get("affected") or []:
            if "package" in a:
                listed.setdefault(a["package"]["name"], []).extend(a.get("versions") or [])
    names = sorted(listed)

    with tempfile.TemporaryDirectory(prefix="customhouse-bench-") as tmp:
        db = Path(tmp) / "advisories.db"
        t0 = time.perf_counter()
        with StoreBuilder(db, fresh=True) as b:
            parsed = [parse_vulnerability(o, "bench") for o in objs]
            t_parsed = time.perf_counter()
            b.add(parsed, "bench")
            b.set_source("bench", url="file:///bench")
        t1 = time.perf_counter()
        del parsed
        import_rate = len(objs) / (t1 - t0)
        store_rate = len(objs) / (t1 - t_parsed)
        size = db.stat().st_size

        archive = Path(tmp) / "all.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for o in objs:
                zf.writestr(f"{o['id']}.json", json.dumps(o, indent=2))  # as osv.dev writes
        del zf  # (closed, it still held a ZipInfo per entry)
        zip_db = Path(tmp) / "zip.db"
        zip_rate = floor_rate = 0.0
        zip_size = 0
        command = [sys.executable, "-m", "customhouse", "db", "import", str(archive)]
        command += ["--db", str(zip_db), "--format", "json"]
        env = {**os.environ, "PYTHONPATH": str(REPO / "src")}  # this checkout's code
        for _ in range(2):  # best of two: this machine is shared
            # the command itself, in its own process, as a user runs it (start-up included)
            t0 = time.perf_counter()
            out = subprocess.run(
                command, check=True, capture_output=True, text=True, env=env
            ).stdout
            t1 = time.perf_counter()
            (report,) = json.loads(out)["sources"].values()
            assert report["records"] == len(objs) and not report["skipped"], report["skipped"][:3]
            zip_rate = max(zip_rate, len(objs) / (t1 - t0))
            zip_size = zip_db.stat().st_size
            zip_db.unlink()
            floor_rate = max(floor_rate, len(objs) / _read_floor(archive))
        archive.unlink()
        count = len(objs)
        del objs, report  # the corpus is not part of a scanning process: its collection
        gc.collect()  # must not stall a timed lookup

        from customhouse.versions import InvalidVersion, scheme_for_ecosystem

        pep440 = scheme_for_ecosystem("PyPI")

        from packaging.version import InvalidVersion as PackagingInvalid
        from packaging.version import Version as PackagingVersion

        def _valid(v: str) -> bool:  # an installed package has a valid version
            # (packaging, the scheme's reference, not the scheme: its memo of parsed
            # versions, which the matcher fills with range bounds, is left to the matcher)
            try:
                PackagingVersion(v)
            except PackagingInvalid:
                return False
            return True

        rng = random.Random(7)
        picks = []
        for _ in range(args.lookups):  # half at a listed version, half at one no list has
            name = rng.choice(names)
            versions = [v for v in listed[name] if _valid(v)]
            version = rng.choice(versions) if versions and rng.random() < 0.5 else "999.0"
            picks.append((name, version))
        # Only the benchmark holds the real records (~280,000 strings, their version lists
        # referred to again from `listed`): a full collection of the cyclic GC visits each,
        # and one such 110-130 ms pause was the lookups' "max". A scanning process holds none.
        # (So did 13,000 versions this filter parsed into the scheme's memo: 30 ms more.)
        del real, listed
        gc.collect()
        with AdvisoryStore(db) as store:
            # A process decodes with the stdlib until it has parsed 1 MB of stored JSON
            # (most of a small scan), then with orjson and msgspec (a server, a scan of many
            # images, this benchmark: the builder above loaded orjson). Both are timed; the
            # goal is judged on the second, as in the earlier sessions.
            saved = store_module._ORJSON, store_module._ENTRIES, store_module._SWITCH
            store_module._ORJSON = store_module._ENTRIES = None
            store_module._SWITCH = 1 << 60
            for name, version in picks[:200]:  # warm the page cache
                store.candidates("PyPI", name, version)
            stdlib_timings = []
            for name, version in picks:
                s = time.perf_counter()
                store.candidates("PyPI", name, version)
                stdlib_timings.append((time.perf_counter() - s) * 1000.0)
            stdlib_timings.sort()
            store_module._ORJSON, store_module._ENTRIES, store_module._SWITCH = saved
            for name, version in picks[:200]:  # (imports the fast decoders, untimed)
                store.candidates("PyPI", name, version)
            timings = []
            hits = listed_hits = 0
            for name, version in picks:  # what the matcher asks per package
                s = time.perf_counter()
                found = store.candidates("PyPI", name, version)
                timings.append((time.perf_counter() - s) * 1000.0)
                hits += len(found)
                listed_hits += sum(c.listed for c in found)
            eval_timings = []
            for name, version in picks:  # the same, then every candidate evaluated
                s = time.perf_counter()
                inst = pep440.parse(version)
                for c in store.candidates("PyPI", name, version):
                    try:
                        c.listed or pep440.affected(inst, c.affected.ranges, c.affected.versions)
                    except InvalidVersion:
                        pass  # a record's unparseable range bound: the matcher warns, and goes on
                eval_timings.append((time.perf_counter() - s) * 1000.0)
            eval_timings.sort()
            full_timings = []
            for name, _ in picks[: max(1, len(picks) // 4)]:  # whole records, decoded
                s = time.perf_counter()
                store.lookup("PyPI", name)
                full_timings.append((time.perf_counter() - s) * 1000.0)
            full_timings.sort()
            raw_timings = []
            for name, _ in picks:
                s = time.perf_counter()
                store.lookup_raw("PyPI", name)
                raw_timings.append((time.perf_counter() - s) * 1000.0)
            per_name = [
                len(store.lookup_raw("PyPI", normalize_name("PyPI", n))) for n in names[:2000]
            ]
        timings.sort()
        raw_timings.sort()

    result = {
        "records": count,
        "real_records": real_count,
        "import_records_per_s": round(zip_rate),
        "import_goal_ratio": round(zip_rate / GOAL_IMPORT, 2),
        "read_decode_floor_records_per_s": round(floor_rate),
        "import_floor_ratio": round(zip_rate / floor_rate, 2),
        "in_memory_import_records_per_s": round(import_rate),
        "store_add_records_per_s": round(store_rate),
        "lookup_p50_ms": round(_percentile(timings, 0.50), 4),
        "lookup_p99_ms": round(_percentile(timings, 0.99), 4),
        "lookup_p99_goal_ratio": round(_percentile(timings, 0.99) / GOAL_P99_MS, 2),
        "lookup_max_ms": round(timings[-1], 4),
        "lookup_stdlib_p50_ms": round(_percentile(stdlib_timings, 0.50), 4),
        "lookup_stdlib_p99_ms": round(_percentile(stdlib_timings, 0.99), 4),
        "lookup_eval_p50_ms": round(_percentile(eval_timings, 0.50), 4),
        "lookup_eval_p99_ms": round(_percentile(eval_timings, 0.99), 4),
        "lookup_full_records_p50_ms": round(_percentile(full_timings, 0.50), 4),
        "lookup_full_records_p99_ms": round(_percentile(full_timings, 0.99), 4),
        "lookup_raw_p50_ms": round(_percentile(raw_timings, 0.50), 4),
        "lookup_raw_p99_ms": round(_percentile(raw_timings, 0.99), 4),
        "lookups": len(picks),
        "mean_entries_per_lookup": round(hits / len(picks), 2),
        "listed_entries_per_lookup": round(listed_hits / len(picks), 2),
        "max_records_per_name": max(per_name),
        "median_records_per_name": statistics.median(per_name),
        "db_bytes": size,
        "db_bytes_per_record": round(size / count),
        "zip_import_db_bytes": zip_size,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"advisory store: {count:,} records generated from {real_count:,} real PyPA records")
    print(
        f"  import       {zip_rate:>10,.0f} records/s: db import of an all.zip, end to end"
        " (files -> validated records -> database; 2 worker processes)"
        f"  (goal >= {GOAL_IMPORT:,.0f}: {result['import_goal_ratio']:.2f}x,"
        f" {'met' if zip_rate >= GOAL_IMPORT else 'MISSED'})"
    )
    print(
        f"               {floor_rate:>10,.0f} records/s floor: only reading and JSON-decoding"
        f" the same zip, one process (import = {result['import_floor_ratio']:.2f}x of it)"
    )
    print(
        f"               {import_rate:>10,.0f} records/s in memory, one thread"
        " (objects -> parse_vulnerability -> StoreBuilder)"
    )
    print(f"               {store_rate:>10,.0f} records/s in StoreBuilder.add + commit")
    print(
        f"  lookup       p50 {result['lookup_p50_ms']:.3f} ms, p99 {result['lookup_p99_ms']:.3f} ms,"
        f" max {result['lookup_max_ms']:.3f} ms over {len(picks):,} real names"
        f" (AdvisoryStore.candidates: entries + version membership)"
        f"  (goal p99 < {GOAL_P99_MS} ms: {result['lookup_p99_goal_ratio']:.2f}x of it,"
        f" {'met' if result['lookup_p99_ms'] < GOAL_P99_MS else 'MISSED'})"
    )
    print(
        f"               p50 {result['lookup_stdlib_p50_ms']:.3f} ms,"
        f" p99 {result['lookup_stdlib_p99_ms']:.3f} ms the same, decoded by the stdlib"
        f" (a process's first MB of stored JSON: most of a small scan)"
    )
    print(
        f"  + evaluation p50 {result['lookup_eval_p50_ms']:.3f} ms, p99 {result['lookup_eval_p99_ms']:.3f} ms"
        f"  (the lookup plus the range evaluation of every candidate, as the matcher does)"
    )
    print(
        f"  whole records p50 {result['lookup_full_records_p50_ms']:.3f} ms,"
        f" p99 {result['lookup_full_records_p99_ms']:.3f} ms (AdvisoryStore.lookup: every record decoded)"
    )
    print(
        f"  lookup_raw   p50 {result['lookup_raw_p50_ms']:.3f} ms, p99 {result['lookup_raw_p99_ms']:.3f} ms"
        f"  ({result['mean_entries_per_lookup']} entries per lookup on average,"
        f" {result['listed_entries_per_lookup']} listing the version,"
        f" at most {result['max_records_per_name']} for one name)"
    )
    print(
        f"  database     {size / 1e6:,.1f} MB ({result['db_bytes_per_record']} bytes per record)"
        " built from the records;"
        f" {zip_size / 1e6:,.1f} MB imported from the all.zip (records kept as its DEFLATE streams)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
