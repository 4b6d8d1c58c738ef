"""Checks experiments/scale_check.py's figures from outside: runs it under /usr/bin/time -v
and measures what it wrote with du; prints both and their ratios (they should agree within
10 %), and writes them as JSON with --out.

    python experiments/scale_outside_check.py --out results/scale/outside_check.json -- --docs 3000 --labels 500
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path


def du_mb(path: Path) -> float:
    """du's apparent size in MB (bytes, as the check counts them)."""
    out = subprocess.run(["du", "-s", "--apparent-size", "--block-size=1", str(path)], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.split()[0]) / 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write the comparison here")
    parser.add_argument("check_args", nargs=argparse.REMAINDER, help="-- then scale_check.py's arguments")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="outside_check_"))
    results = work / "report.json"
    check = [sys.executable, str(Path(__file__).with_name("scale_check.py")), *[a for a in args.check_args if a != "--"],
             "--out", str(work / "run"), "--results", str(results)]
    timed = subprocess.run(["/usr/bin/time", "-v", *check], capture_output=True, text=True)
    if timed.returncode != 0:
        raise SystemExit(timed.stderr[-3000:])
    report = json.loads(results.read_text())
    time_max_rss_mb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", timed.stderr).group(1)) / 1024
    pairs = {
        "peak_rss_mb": (report["peak_rss_mb"], time_max_rss_mb),
        "savedmodel_mb": (report["savedmodel_mb"], du_mb(Path(report["savedmodel_dir"]))),
        "checkpoint_mb": (report["checkpoint_mb"], du_mb(work / "run" / "run" / "checkpoints" / "last.keras")),
        "prepared_mb": (report["stages"]["prepare"]["disk_mb"] + report["stages"]["word2vec"]["disk_mb"],
                        du_mb(work / "run" / "prepared") - du_mb(work / "run" / "prepared" / "cache")),
    }
    comparison = {name: {"scale_check": round(ours, 2), "outside": round(theirs, 2), "ratio": round(ours / theirs, 3)}
                  for name, (ours, theirs) in pairs.items()}
    for name, row in comparison.items():
        print(f"{name:>15}: scale_check {row['scale_check']:>10.1f}  outside {row['outside']:>10.1f}  ratio {row['ratio']:.3f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"command": "python experiments/scale_check.py " + " ".join(args.check_args),
                                              "machine": report["machine"], "comparison": comparison}, indent=2) + "\n")
    return 0 if all(0.9 <= row["ratio"] <= 1.1 for row in comparison.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
