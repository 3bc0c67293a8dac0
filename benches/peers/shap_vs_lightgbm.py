#!/usr/bin/env python3
"""TreeSHAP speed and agreement: LightGBM pred_contrib vs shap.TreeExplainer vs aml-explain.

Trains (or reuses, if present in --workdir) a binary LightGBM model of 500 trees x 31 leaves on 100
features, saves it, then explains the same rows (with ~5% NaNs) with 2 threads through
  * lightgbm Booster.predict(X, pred_contrib=True, num_threads=2)
  * shap.TreeExplainer(booster).shap_values(X)
  * aml-explain's example `explain_bench` (reads the model file and a CSV of the rows)
and prints rows/s, speed ratios and max |diff| against LightGBM.

Usage: python3 benches/peers/shap_vs_lightgbm.py [--rows 4000] [--threads 2] [--workdir DIR]
Builds the example with `cargo build --release --workspace` (same feature set as other workspace
builds, so nothing else is rebuilt; honours CARGO_TARGET_DIR).
"""
import argparse
import json
import os
import subprocess
import time

import lightgbm as lgb
import numpy as np
import shap

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def best_time(fn, repeats):
    best, out = float("inf"), None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workdir", default="/tmp/aml_shap_peer")
    ap.add_argument("--train-only", action="store_true", help="only train and save the model")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)
    rng = np.random.default_rng(42)
    n_features = 100
    model_path = os.path.join(args.workdir, "model_500x31.txt")
    if os.path.exists(model_path):
        booster = lgb.Booster(model_file=model_path)
    else:
        X = rng.normal(size=(20000, n_features))
        X[rng.random(X.shape) < 0.05] = np.nan
        w = rng.normal(size=n_features)
        logit = np.nan_to_num(X, nan=0.5) @ w / 5 + np.sin(np.nan_to_num(X[:, 0]))
        y = (logit + rng.logistic(size=len(logit)) > 0).astype(int)
        params = dict(objective="binary", num_leaves=31, learning_rate=0.05, min_data_in_leaf=20,
                      num_threads=args.threads, seed=1, verbose=-1)
        t = time.perf_counter()
        booster = lgb.train(params, lgb.Dataset(X, y), num_boost_round=500)
        print(f"trained 500 trees in {time.perf_counter() - t:.1f}s")
        booster.save_model(model_path)
    if args.train_only:
        return
    rows = rng.normal(size=(args.rows, n_features))
    rows[rng.random(rows.shape) < 0.05] = np.nan
    rows_path = os.path.join(args.workdir, "rows.csv")
    with open(rows_path, "w") as fh:
        fh.write(",".join(f"f{i}" for i in range(n_features)) + "\n")
        for r in rows:
            fh.write(",".join("NaN" if np.isnan(v) else repr(float(v)) for v in r) + "\n")

    t_lgb, lgb_contrib = best_time(
        lambda: booster.predict(rows, pred_contrib=True, num_threads=args.threads), args.repeats)
    explainer = shap.TreeExplainer(booster)
    t_shap, shap_values = best_time(lambda: explainer.shap_values(rows), 1)
    shap_values = np.asarray(shap_values)

    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    subprocess.run(["cargo", "build", "--release", "-q", "--workspace", "--example", "explain_bench"],
                   cwd=ROOT, env=env, check=True)
    target = env.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    out_path = os.path.join(args.workdir, "ours.bin")
    res = subprocess.run([os.path.join(target, "release", "examples", "explain_bench"), model_path, rows_path,
                          out_path, str(args.repeats)], env=env, check=True, capture_output=True, text=True)
    ours_info = json.loads(res.stdout.strip().splitlines()[-1])
    ours = np.fromfile(out_path, dtype="<f8").reshape(args.rows, n_features + 1)

    r_lgb = args.rows / t_lgb
    r_shap = args.rows / t_shap
    r_ours = ours_info["rows_per_s"]
    print(f"model: 500 trees x 31 leaves, {n_features} features; {args.rows} rows (5% NaN); "
          f"{args.threads} threads; best of {args.repeats}")
    print(f"{'explainer':<28}{'rows/s':>12}{'ours / it':>12}{'max|diff| vs lgb':>20}")
    print(f"{'lightgbm pred_contrib':<28}{r_lgb:>12.0f}{r_ours / r_lgb:>12.1f}{0.0:>20.2e}")
    print(f"{'shap.TreeExplainer':<28}{r_shap:>12.0f}{r_ours / r_shap:>12.1f}"
          f"{np.max(np.abs(shap_values - lgb_contrib[:, :-1])):>20.2e}")
    print(f"{'aml-explain (ours)':<28}{r_ours:>12.0f}{1.0:>12.1f}{np.max(np.abs(ours - lgb_contrib)):>20.2e}")
    print(f"ours: precomputed data {ours_info['table_mb']:.1f} MB, prepare {ours_info['prepare_s'] * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
