#!/usr/bin/env python3
"""run.py - filter pattern evaluation rate: trailstream vs moto's own pattern code.

  run.py BUILD_DIR [--records N] [--seconds S] [--patterns TSV]

Generates N CloudTrail-shaped records (~1.1 KB each, mixed matching and non-matching; see
tests/pattern/gen_cloudtrail.py), runs BUILD_DIR/bench/pattern/bench_pattern over every CIS
pattern (../shared/data/cis-filter-patterns.tsv when present, else our transcription in
tests/pattern/cis_patterns.tsv) plus a few term patterns, then times moto.logs.utils
.EventMessageFilter on the same records and patterns in this process, and prints both rates
and the ratio. moto 5.2.1 implements only term patterns: it treats every JSON pattern as
"match everything" without reading the event, so for the CIS rows its rate is the cost of a
no-op and its match count is wrong; the term rows are the like-for-like comparison.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "pattern"))
import gen_cloudtrail  # noqa: E402

TERMS = [("term-ConsoleLogin", "ConsoleLogin"), ("term-AccessDenied", '"AccessDenied"'),
         ("term-two", "StopLogging cloudtrail"), ("term-phrase", '"Failed authentication"')]


def moto_rate(pattern, msgs, secs):
    try:
        from moto.logs.utils import EventMessageFilter
    except ImportError:
        return None, None, None
    f = EventMessageFilter(pattern)
    kind = type(f.filter_type).__name__
    matches = sum(1 for m in msgs if EventMessageFilter(pattern).matches(m))
    # CPU time, like bench_pattern (the machine is shared)
    n, start = 0, time.process_time()
    while time.process_time() - start < secs:
        for m in msgs:
            # moto builds the filter per FilterLogEvents call, then matches every event
            f.matches(m)
        n += len(msgs)
    return n / (time.process_time() - start), matches, kind


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--patterns")
    a = ap.parse_args()
    shared = os.path.join(ROOT, "..", "shared", "data", "cis-filter-patterns.tsv")
    tsv = a.patterns or (shared if os.path.exists(shared) else
                         os.path.join(ROOT, "tests", "pattern", "cis_patterns.tsv"))
    rng = gen_cloudtrail.random.Random(1)
    msgs = [json.dumps(gen_cloudtrail.record(rng, i), separators=(",", ":"))
            for i in range(a.records)]
    rows = []
    with open(tsv) as f:
        next(f)
        for line in f:
            cols = line.rstrip("\n").split("\t")
            rows.append((cols[0], cols[-1]))
    rows += TERMS
    with tempfile.TemporaryDirectory() as tmp:
        rec_path = os.path.join(tmp, "records.jsonl")
        pat_path = os.path.join(tmp, "patterns.tsv")
        with open(rec_path, "w") as f:
            for i, m in enumerate(msgs):
                f.write(json.dumps({"id": i, "message": m}) + "\n")
        with open(pat_path, "w") as f:
            f.write("id\tpattern\n")
            for pid, p in rows:
                f.write(f"{pid}\t{p}\n")
        exe = os.path.join(a.build, "bench", "pattern", "bench_pattern")
        out = subprocess.run([exe, rec_path, pat_path, str(a.seconds)], check=True,
                             capture_output=True, text=True).stdout
    ours = {}
    for line in out.splitlines():
        cols = line.split("\t")
        if cols[1] == "error":
            sys.exit(f"{cols[0]}: does not compile: {cols[2]}")
        ours[cols[0]] = (float(cols[1]), int(cols[2]))
    avg = sum(len(m) for m in msgs) / len(msgs)
    print(f"{len(msgs)} records, {avg:.0f} bytes average; patterns from {os.path.relpath(tsv)}")
    print(f"{'pattern':34} {'trailstream ev/s':>17} {'match':>6} {'moto ev/s':>12} "
          f"{'match':>6} {'ratio':>7}  moto handles it as")
    cis_rates = []
    for pid, p in rows:
        rate, m = ours[pid]
        mr, mm, kind = moto_rate(p, msgs, a.seconds / 2)
        if not pid.startswith("term-"):
            cis_rates.append(rate)
        ratio = f"{rate / mr:7.1f}" if mr else "      -"
        print(f"{pid:34} {rate:17,.0f} {m:6d} {mr or 0:12,.0f} {mm if mm is not None else '-':>6} "
              f"{ratio}  {kind or 'moto not installed'}")
    for pid in ("__cjson_parse", "__full_scan"):
        print(f"{pid:34} {ours[pid][0]:17,.0f}")
    cis_rates.sort()
    whole = len(cis_rates) / sum(1 / r for r in cis_rates)
    print(f"CIS patterns ({len(cis_rates)}): min {cis_rates[0]:,.0f}, median "
          f"{cis_rates[len(cis_rates) // 2]:,.0f}, max {cis_rates[-1]:,.0f} evaluations/s per core;"
          f" whole set round-robin {whole:,.0f}/s (target 1,000,000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
