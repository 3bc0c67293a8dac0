#!/usr/bin/env python3
"""Batch prediction speed: aml-models vs LightGBM on the same model file and data.

Trains a LightGBM model (default binary, 500 trees, 31 leaves, lr 0.05) on synthetic
200,000 x 100 data, saves it, times LightGBM's predict with N threads on a held-out
matrix given as float32 and as float64, then runs our `predict_file` example on the same
model and matrices with the same thread count, checks the raw scores agree bit for bit,
and prints one table (f32 and f64 rows/s and ratios, same run).

    python3 crates/aml-models/benches/peers/predict_vs_lightgbm.py [--rows 200000] [--threads 2]
        [--kind binary|categorical|multiclass]

`--kind categorical` makes the first 10 features integer categories (0-39, NaN kept) and
trains them as LightGBM categorical features; `--kind multiclass` trains 3 classes
(`--trees` iterations, 3 trees each).

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


def lgb_time(booster, x, threads, repeat):
    """Best seconds of `repeat` LightGBM raw predictions of `x`, and the raw scores."""
    best = float("inf")
    raw = None
    for _ in range(repeat):
        t = time.perf_counter()
        raw = booster.predict(x, raw_score=True, num_threads=threads)
        best = min(best, time.perf_counter() - t)
    return best, raw


def ours_time(exe, model_path, data_path, dtype, args, out_path):
    """Best seconds of our `predict_file` example, and its raw scores."""
    res = subprocess.run([exe, "--model", model_path, "--data", data_path, "--cols", str(args.features),
                          "--dtype", dtype, "--threads", str(args.threads), "--repeat", str(args.repeat),
                          "--out", out_path], check=True, capture_output=True, text=True)
    fields = dict(kv.split("=") for kv in res.stdout.split())
    return float(fields["seconds"]), np.fromfile(out_path, dtype="<f8")


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
    ap.add_argument("--kind", choices=["binary", "categorical", "multiclass"], default="binary")
    ap.add_argument("--data", choices=["linear", "interactions"], default="linear",
                    help="linear: sparse linear logit over all features; interactions: the nonlinear logit over "
                         "20 features of benches/peers/gbdt_vs_lightgbm.py (deeper, lopsided trees)")
    args = ap.parse_args()

    work = args.workdir or tempfile.mkdtemp(prefix="predict_peer_")
    os.makedirs(work, exist_ok=True)
    model_path = os.path.join(work, f"model_{args.kind}_{args.data}.txt")

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
        logit = y
    x_test = rng.normal(size=(args.rows, args.features)).astype(np.float32)
    x_test[rng.random(x_test.shape) < 0.05] = np.nan
    params = {"objective": "binary", "num_leaves": args.leaves, "learning_rate": 0.05,
              "num_threads": args.threads, "verbose": -1, "seed": 1}
    dataset = {}
    if args.kind == "categorical":
        cats = list(range(10))
        for m in (x, x_test):
            m[:, cats] = np.where(np.isnan(m[:, cats]), np.nan, np.floor(np.abs(m[:, cats]) * 13) % 40)
        # The label also depends on the categories, so the trees split on them.
        effect = rng.normal(size=40)
        y = ((np.nan_to_num(logit) + effect[np.nan_to_num(x[:, 0]).astype(int)]
              + rng.normal(size=train_rows)) > 0).astype(np.float64)
        dataset["categorical_feature"] = cats
    elif args.kind == "multiclass":
        z = np.nan_to_num(logit) + rng.normal(size=train_rows)
        y = np.digitize(z, np.quantile(z, [1 / 3, 2 / 3])).astype(np.float64)
        params.update(objective="multiclass", num_class=3)

    if not os.path.exists(model_path):
        t = time.perf_counter()
        booster = lgb.train(params, lgb.Dataset(x, y, **dataset), num_boost_round=args.trees)
        if booster.current_iteration() != args.trees:
            sys.exit(f"LightGBM stopped at {booster.current_iteration()} iterations")
        booster.save_model(model_path)
        print(f"trained LightGBM in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    booster = lgb.Booster(model_file=model_path)

    subprocess.run(["cargo", "build", "--release", "-q", "-p", "aml-models", "--example", "predict_file"],
                   cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    exe = os.path.join(target, "release", "examples", "predict_file")

    print(f"\nbatch predict ({args.kind}, {args.data} data), {args.rows} x {args.features}, "
          f"{booster.num_trees()} trees x {args.leaves} leaves, {args.threads} threads (best of {args.repeat})")
    print(f"{'input':<7}{'LightGBM rows/s':>17}{'aml-models rows/s':>19}{'ratio':>8}  raw scores bit-identical")
    for dtype, np_type in (("f32", "<f4"), ("f64", "<f8")):
        xt = x_test.astype(np_type)
        data_path = os.path.join(work, f"x.{dtype}")
        xt.tofile(data_path)
        lgb_s, lgb_raw = lgb_time(booster, xt, args.threads, args.repeat)
        ours_s, ours_raw = ours_time(exe, model_path, data_path, dtype, args, os.path.join(work, "raw.f64"))
        lgb_raw = np.asarray(lgb_raw, dtype=np.float64).reshape(-1)
        identical = bool(np.array_equal(ours_raw, lgb_raw))
        max_diff = float(np.max(np.abs(ours_raw - lgb_raw)))
        lgb_rps, ours_rps = args.rows / lgb_s, args.rows / ours_s
        print(f"{dtype:<7}{lgb_rps:>17,.0f}{ours_rps:>19,.0f}{ours_rps / lgb_rps:>8.2f}  "
              f"{identical} (max |diff| {max_diff:.3g})")


if __name__ == "__main__":
    main()
