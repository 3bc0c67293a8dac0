"""Scorer quality over several synthetic worlds: our bundle against the template's LightGBM
pipeline (issue 15 item 5), reported per generator seed and as mean and spread over seeds.

For each generator seed S:
  1. `aml-miner generate` 11 labelled days from 2025-10-01 at the trained_models/README.md sizes
     (5,000 alerts, 50,000 addresses, 250,000 flows) into WORK/seed-S/days (kept between runs);
  2. `aml-miner train` on 2025-10-01..07 (the last of them validates: early stopping,
     calibration), training seed --train-seed;
  3. `aml-miner score` each held-out day 2025-10-08..11;
  4. `aml-miner features --spec` (the bundle's feature_spec) on all 11 days;
  5. pipeline_seeds.quality_tables: the peers train on 2025-10-01..07 and score 10-08..11.
A seed's figure is the mean over its four held-out days; the summary gives, per model row, the
mean, the standard deviation and the range over seeds, and the same for our scorer's AUC minus
the template pipeline's. Nothing is chosen on the held-out days.

    cargo build --release --bin aml-miner
    python3 benches/peers/quality_over_seeds.py --bin target/release/aml-miner \
        --work /tmp/qos --seeds 1 2 3 [--tag NAME] [--train-seed 42] [-- EXTRA TRAIN ARGS]

Outputs of one binary go under WORK/seed-S/TAG (default tag: "run"), the summary also to
WORK/TAG-summary.json.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

# LightGBM's OpenMP threads spin while waiting; on a shared, oversubscribed machine that makes
# the 2-thread peers 10-20x slower (the figures do not change). Set before lightgbm is loaded.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pipeline_seeds  # noqa: E402

DAYS = [f"2025-10-{d:02d}" for d in range(1, 12)]
TRAIN_DAYS, TEST_DAYS = DAYS[:7], DAYS[7:]
METRICS = ["AUC", "AUC-PR", "Brier", "NDCG@500"]


def run(cmd):
    """Runs `cmd` (list), failing loudly with its output when it fails; returns wall seconds."""
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(cmd)}\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - t0


def one_seed(args, seed, extra):
    root = os.path.join(args.work, f"seed-{seed}")
    days = os.path.join(root, "days")
    if not all(os.path.exists(os.path.join(days, d, "META.json")) for d in DAYS):
        run([args.bin, "generate", "--out", days, "--date", DAYS[0], "--days", str(len(DAYS)),
             "--alerts", "5000", "--addresses", "50000", "--flows", "250000", "--seed", str(seed),
             "--labels"])
    out = os.path.join(root, args.tag)
    os.makedirs(out, exist_ok=True)
    model = os.path.join(out, "model")
    train_s = run([args.bin, "train", "--history", *[os.path.join(days, d) for d in TRAIN_DAYS],
                   "--out", model, "--seed", str(args.train_seed), "--no-baselines", *extra])
    with open(os.path.join(model, "metadata.json")) as f:
        metadata = json.load(f)
    spec = metadata["feature_spec"]
    scorer_trees = metadata["models"]["alert_scorer"]["num_trees"]
    spec_path = os.path.join(out, "feature_spec.json")
    with open(spec_path, "w") as f:
        json.dump(spec, f)
    matrices = {}
    for d in DAYS:
        matrices[d] = os.path.join(out, f"matrix-{d}.parquet")
        run([args.bin, "features", "--batch", os.path.join(days, d), "--spec", spec_path,
             "--out", matrices[d]])
    tests = []
    for d in TEST_DAYS:
        sub = os.path.join(out, f"submission-{d}")
        run([args.bin, "score", "--batch", os.path.join(days, d), "--models", model, "--out", sub])
        tests.append((f"{matrices[d]}:{os.path.join(days, d)}", os.path.join(sub, "scores.parquet")))
    trains = [f"{matrices[d]}:{os.path.join(days, d)}" for d in TRAIN_DAYS]
    tables, peer_s = pipeline_seeds.quality_tables(trains, tests)
    rows = pipeline_seeds.mean_rows(tables)
    return {"seed": seed, "train_s": train_s, "scorer_trees": scorer_trees, "peer_train_s": peer_s, "rows": rows,
            "per_day": [dict(day=d, rows=t) for d, t in zip(TEST_DAYS, tables)]}


def spread(values):
    v = np.asarray(values, dtype=float)
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max())}


def summarise(results):
    models = [r["model"] for r in results[0]["rows"]]
    summary = {}
    for i, m in enumerate(models):
        summary[m] = {k: spread([res["rows"][i][k] for res in results]) for k in METRICS}
    template = models.index("template pipeline: LightGBM on seeds features")
    summary["AUC gain over the template pipeline"] = spread(
        [res["rows"][0]["AUC"] - res["rows"][template]["AUC"] for res in results])
    return summary


def print_report(results, summary):
    print("| seed | model | AUC | AUC-PR | Brier | NDCG@500 |")
    print("|---|---|---|---|---|---|")
    for res in results:
        for r in res["rows"]:
            print(f"| {res['seed']} | {r['model']} | " + " | ".join(f"{r[k]:.4f}" for k in METRICS) + " |")
    print(f"\nmean ± std (min..max) over {len(results)} seeds, each seed the mean of its "
          f"{len(TEST_DAYS)} held-out days\n")
    print("| model | AUC | AUC-PR | Brier | NDCG@500 |")
    print("|---|---|---|---|---|")
    cell = lambda s: f"{s['mean']:.4f} ± {s['std']:.4f} ({s['min']:.4f}..{s['max']:.4f})"
    for m, stats in summary.items():
        if "AUC" in stats and isinstance(stats["AUC"], dict):
            print(f"| {m} | " + " | ".join(cell(stats[k]) for k in METRICS) + " |")
    gain = summary["AUC gain over the template pipeline"]
    print(f"\nour scorer's AUC minus the template pipeline's: {cell(gain)}")
    train = spread([r["train_s"] for r in results])
    print("alert_scorer trees per seed: " + ", ".join(str(r["scorer_trees"]) for r in results))
    print(f"aml-miner train wall (no baselines): {train['mean']:.1f} s mean "
          f"({train['min']:.1f}..{train['max']:.1f}); LightGBM peers (300 trees): "
          + ", ".join(f"{k} {np.mean([r['peer_train_s'][k] for r in results]):.1f} s"
                      for k in results[0]["peer_train_s"]))


def main():
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", required=True, help="aml-miner binary (release build)")
    p.add_argument("--work", required=True, help="work directory (generated days are kept)")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--tag", default="run", help="sub-directory for this binary's outputs")
    p.add_argument("--train-seed", type=int, default=42)
    args = p.parse_args(argv)
    results = [one_seed(args, s, extra) for s in args.seeds]
    summary = summarise(results)
    print_report(results, summary)
    with open(os.path.join(args.work, f"{args.tag}-summary.json"), "w") as f:
        json.dump({"results": results, "summary": summary}, f, indent=1)


if __name__ == "__main__":
    main()
