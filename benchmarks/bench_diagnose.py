"""Benchmark ``repair diagnose``: recall on held-out real error lines, silence on healthy logs, and
streaming speed against ``grep -E -f`` with every catalogue pattern.

Recall: ``benchmarks/diagnose-heldout.jsonl`` holds real error lines from public threads, each
with its source; no source is one the catalogue quotes and no line is a catalogue example (both
checked here). A line counts as recognised when it yields at least one cause (a catalogue entry or
a structural matcher). Healthy: every log in ``tests/data/healthy-logs`` and every line of
``repair/data/ordinary-lines.txt`` must yield nothing.

Speed: generates a log of ordinary start-up lines with error lines sprinkled in (default 200 MB),
times the in-process matcher and grep on the same file, and prints throughput, the ratio and the
peak memory of the matcher (ru_maxrss), which stays flat whatever the size of the log.

    python benchmarks/bench_diagnose.py [--size-mb 200] [--keep] [--recall-only] [-v]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from repair.diagnose.catalogue import load_catalogue  # noqa: E402
from repair.diagnose.scan import diagnose_file, diagnose_lines  # noqa: E402

HELDOUT = ROOT / "benchmarks" / "diagnose-heldout.jsonl"


def recall(verbose: bool = False) -> dict[str, object]:
    """Recall on the held-out lines, and matches on healthy logs and ordinary lines."""
    cat = load_catalogue()
    quoted = {u for sig in cat for u in sig.source}
    examples = {e for sig in cat for e in sig.examples}
    rows = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines() if line]
    leaks = [r["source"] for r in rows if r["source"] in quoted or r["line"] in examples]
    missed = []
    by_shape = 0
    for row in rows:
        result = diagnose_lines([row["line"]])
        if result.healthy:
            missed.append(row)
        elif all(c.lead.shape for c in result.causes):
            by_shape += 1
    healthy = sorted((ROOT / "tests" / "data" / "healthy-logs").glob("*.log"))
    noisy = [p.name for p in healthy if not diagnose_file(p).healthy]
    ordinary = (ROOT / "repair" / "data" / "ordinary-lines.txt").read_text(encoding="utf-8")
    ordinary_hits = len(diagnose_lines(ordinary.splitlines()).matches)
    if verbose:
        for row in missed:
            print(f"missed: {row['line'][:120]}  ({row['source']})", file=sys.stderr)
    return {
        "heldout_lines": len(rows),
        "heldout_sources": len({r["source"] for r in rows}),
        "recognised": len(rows) - len(missed),
        "recall": round((len(rows) - len(missed)) / len(rows), 3) if rows else None,
        "recognised_by_shapes_only": by_shape,
        "leaks_into_catalogue": leaks,
        "catalogue_signatures": len(cat),
        "structural_matchers": len(cat.shapes),
        "healthy_logs": len(healthy),
        "healthy_logs_with_matches": noisy,
        "ordinary_line_matches": ordinary_hits,
    }


def to_ere(pattern: str) -> str:
    """The closest POSIX ERE that GNU grep accepts (flags, lookarounds and \\d rewritten)."""
    p = re.sub(r"\(\?[imsx]+\)", "", pattern)
    p = re.sub(r"\(\?<?[!=](?:[^()]|\([^()]*\))*\)", "", p)
    return p.replace("(?:", "(").replace("\\d", "[0-9]")


def make_log(path: Path, size: int) -> int:
    healthy = (ROOT / "repair" / "data" / "ordinary-lines.txt").read_text(encoding="utf-8")
    lines = [ln for ln in healthy.splitlines() if ln.strip()]
    errors = [ex for sig in load_catalogue() for ex in sig.examples]
    rng = random.Random(7)
    written = 0
    with path.open("w", encoding="utf-8") as fh:
        while written < size:
            chunk = "\n".join(rng.choice(lines) for _ in range(2000))
            chunk += "\n" + rng.choice(errors) + "\n"
            fh.write(chunk)
            written += len(chunk.encode("utf-8"))
    return written


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=float, default=200)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--recall-only", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    print(json.dumps(recall(args.verbose), indent=2))
    if args.recall_only:
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-diagnose-"))
    try:
        log = tmp / "bench.log"
        size = make_log(log, int(args.size_mb * 1024 * 1024))
        patterns = tmp / "patterns.ere"
        patterns.write_text(
            "\n".join(to_ere(s.pattern) for s in load_catalogue()) + "\n", encoding="utf-8"
        )
        _ = load_catalogue().keys  # the prefilter is built once per process; time the scan
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t = time.perf_counter()
        result = diagnose_file(log)
        ours = time.perf_counter() - t
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        grep = shutil.which("grep")
        t = time.perf_counter()
        proc = subprocess.run(
            [grep or "grep", "-E", "-c", "-f", str(patterns), str(log)],
            capture_output=True,
            text=True,
            env={"LC_ALL": "C"},
        )
        theirs = time.perf_counter() - t
        mb = size / 1024 / 1024
        print(
            json.dumps(
                {
                    "log_mb": round(mb, 1),
                    "lines": result.lines,
                    "patterns": len(load_catalogue()),
                    "prefilter_keys": sum(len(t.keys) for t in load_catalogue().keys),
                    "matching_lines": sum(c.count for c in result.causes),
                    "grep_matching_lines": int(proc.stdout.strip() or 0),
                    "diagnose_s": round(ours, 2),
                    "grep_s": round(theirs, 2),
                    "diagnose_mb_s": round(mb / ours, 1),
                    "grep_mb_s": round(mb / theirs, 1),
                    "ratio": round(ours / theirs, 2),
                    "peak_rss_mb_before": round(rss0 / 1024, 1),
                    "peak_rss_mb_after": round(rss1 / 1024, 1),
                },
                indent=2,
            )
        )
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
