#!/usr/bin/env python3
"""Batch prediction speed: aml-models vs LightGBM on the same model file and data.

Trains a LightGBM binary model (default 500 trees, 31 leaves, lr 0.05) on synthetic
200,000 x 100 data, saves it, times LightGBM's predict with N threads on a held-out
matrix, then runs our `predict_file` example on the same model and matrix with the
same thread count, checks the raw scores agree, and prints a table.

    python3 crates/aml-models/benches/peers/predict_vs_lightgbm.py [--rows 200000] [--threads 2]

Needs: pip install lightgbm numpy; cargo. Build is `--release`.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import lightgbm as lgb

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "benches", "peers"))
from gbdt_vs_lightgbm import make_data_from  # noqa: E402  (the interactions data, one definition)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--train-rows", type=int, default=None,
                    help="rows to train on (default --rows); prediction speed depends on the trees, not on this")
    ap.add_argument("--features", type=int, default=100)
    ap.add_argument("--trees", type=int, default=500)
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", default=None, help="keep model and data here (default: temp dir)")
    ap.add_argument("--data", choices=["linear", "interactions"], default="linear",
                    help="linear: sparse linear logit over all features; interactions: the nonlinear logit over "
                         "20 features of benches/peers/gbdt_vs_lightgbm.py (deeper, lopsided trees)")
    args = ap.parse_args()

    work = args.workdir or tempfile.mkdtemp(prefix="predict_peer_")
    os.makedirs(work, exist_ok=True)
    model_path = os.path.join(work, "model.txt")
    data_path = os.path.join(work, "x.f32")
    out_path = os.path.join(work, "raw.f64")

    rng = np.random.default_rng(42)
    train_rows = args.train_rows or args.rows
    if args.data == "linear":
        x = rng.normal(size=(train_rows, args.features)).astype(np.float32)
        x[rng.random(x.shape) < 0.05] = np.nan
        w = rng.normal(size=args.features) * (rng.random(args.features) < 0.3)
        logit = np.nan_to_num(x) @ w + 0.5 * np.sin(3 * np.nan_to_num(x[:, 0]))
        y = (logit + rng.normal(size=train_rows) > 0).astype(np.float64)
    else:
        x, y = make_data_from(rng, train_rows, args.features)
    x_test = rng.normal(size=(args.rows, args.features)).astype(np.float32)
    x_test[rng.random(x_test.shape) < 0.05] = np.nan

    if not os.path.exists(model_path):
        t = time.perf_counter()
        params = {"objective": "binary", "num_leaves": args.leaves, "learning_rate": 0.05,
                  "num_threads": args.threads, "verbose": -1, "seed": 1}
        booster = lgb.train(params, lgb.Dataset(x, y), num_boost_round=args.trees)
        if booster.num_trees() != args.trees:
            sys.exit(f"LightGBM stopped at {booster.num_trees()} trees")
        booster.save_model(model_path)
        print(f"trained LightGBM in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    booster = lgb.Booster(model_file=model_path)
    x_test.astype("<f4").tofile(data_path)

    best = float("inf")
    for _ in range(args.repeat):
        t = time.perf_counter()
        lgb_raw = booster.predict(x_test, raw_score=True, num_threads=args.threads)
        best = min(best, time.perf_counter() - t)
    lgb_rps = args.rows / best

    subprocess.run(["cargo", "build", "--release", "-q", "--workspace", "--example", "predict_file"],
                   cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    exe = os.path.join(target, "release", "examples", "predict_file")
    res = subprocess.run([exe, "--model", model_path, "--data", data_path, "--cols", str(args.features),
                          "--threads", str(args.threads), "--repeat", str(args.repeat), "--out", out_path],
                         check=True, capture_output=True, text=True)
    fields = dict(kv.split("=") for kv in res.stdout.split())
    ours_rps = float(fields["rows_per_sec"])
    ours_raw = np.fromfile(out_path, dtype="<f8")
    max_diff = float(np.max(np.abs(ours_raw - lgb_raw)))
    identical = bool(np.array_equal(ours_raw, lgb_raw))

    print(f"\nbatch predict, {args.rows} x {args.features} f32, {args.trees} trees x {args.leaves} leaves, "
          f"{args.threads} threads (best of {args.repeat})")
    print(f"{'engine':<12}{'seconds':>10}{'rows/s':>14}{'ratio':>8}")
    print(f"{'LightGBM':<12}{best:>10.3f}{lgb_rps:>14.0f}{1.0:>8.2f}")
    print(f"{'aml-models':<12}{float(fields['seconds']):>10.3f}{ours_rps:>14.0f}{ours_rps / lgb_rps:>8.2f}")
    print(f"raw scores bit-identical: {identical} (max |diff| {max_diff:.3g})")


if __name__ == "__main__":
    main()
