#!/usr/bin/env python3
"""Peer benchmark for a whole day: our `score_batch` against the seeds' pandas + LightGBM + shap pipeline.

Runs, in the same minute and on the same batch directory:
- ours: `score_batch --batch DIR --out OUT` as a whole process under `/usr/bin/time -v`, `--repeat`
  times: wall seconds (process start to exit: bundle load, load + sha256 verify, graph, features,
  score + TreeSHAP top-5 for every alert, rank, cluster scores, signed atomic write), peak RSS, and
  the stage seconds from OUT/manifest.json; the median run is reported;
- the template: `pipeline_seeds.py speed DIR` (its model has as many trees as the shipped scorer;
  see that script), once: the sum of its timed steps (pandas load + merge, predict, shap + top-5
  JSON, rank + write). Python start-up, imports and its untimed model training are NOT counted, so
  the ratio is conservative for us. Its peak RSS is measured with `/usr/bin/time -v` around the
  whole script (training included).

    python3 benches/peers/end_to_end.py --batch /tmp/full/2025-10-08 \
        --bin target/release/examples/score_batch [--repeat 3] [--threads 2]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time


def timed(cmd, env):
    """Runs `cmd` under /usr/bin/time -v; returns (wall seconds, peak RSS MB, stdout)."""
    t = time.perf_counter()
    res = subprocess.run(["/usr/bin/time", "-v"] + cmd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if res.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr).group(1))
    return wall, rss_kb / 1024.0, res.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", required=True)
    parser.add_argument("--bin", required=True, help="the score_batch example (release build)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads))
    load = os.getloadavg()[0]
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):
            out = os.path.join(tmp, f"out{i}")
            wall, rss, _ = timed([args.bin, "--batch", args.batch, "--out", out], env)
            with open(os.path.join(out, "manifest.json")) as f:
                stages = {s["stage"]: s["seconds"] for s in json.load(f)["stage_seconds"]}
            with open(os.path.join(out, "receipt.json")) as f:
                scores_hash = json.load(f)["scores_hash"]
            runs.append((wall, rss, stages, scores_hash))
    hashes = {r[3] for r in runs}
    runs.sort(key=lambda r: r[0])
    wall, rss, stages, scores_hash = runs[len(runs) // 2]
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pipeline_seeds.py")
    _, peer_rss, out = timed([sys.executable, script, "speed", args.batch], env)
    peer = {m.group(1).strip(): float(m.group(2))
            for m in re.finditer(r"^\s*([^:]+):\s+([0-9.]+) s", out, re.M)}
    peer_total = peer.pop("total")
    print(f"load average at start: {load:.2f}; threads {args.threads}; batch {args.batch}")
    print(f"ours (median of {args.repeat} whole-process runs, walls "
          f"{', '.join(f'{r[0]:.2f}' for r in runs)} s): {wall:.2f} s, peak RSS {rss:.0f} MB")
    for name, seconds in stages.items():
        print(f"    {name:>18}: {seconds:7.3f} s")
    print(f"    scores_hash {scores_hash} ({'identical' if len(hashes) == 1 else 'DIFFERENT'} over runs)")
    print(f"template (timed steps only): {peer_total:.2f} s, peak RSS {peer_rss:.0f} MB (whole script)")
    for name, seconds in peer.items():
        print(f"    {name:>18}: {seconds:7.3f} s")
    print(f"speed-up: {peer_total / wall:.1f}x; memory: {peer_rss / rss:.1f}x less")


if __name__ == "__main__":
    main()
