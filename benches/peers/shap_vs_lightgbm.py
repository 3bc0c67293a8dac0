#!/usr/bin/env python3
"""TreeSHAP speed and agreement: LightGBM pred_contrib vs shap.TreeExplainer vs aml-explain.

Trains (or reuses, if present in --workdir) a binary LightGBM model of 500 trees x 31 leaves on 100
features, saves it, then explains the same rows (with ~5% NaNs) with 2 threads through
  * lightgbm Booster.predict(X, pred_contrib=True, num_threads=2)
  * shap.TreeExplainer(booster).shap_values(X)
  * aml-explain's example `explain_bench` (reads the model file and a CSV of the rows)
and prints rows/s, speed ratios and max |diff| against LightGBM.

What each figure includes (best of --repeats runs):
  * lightgbm pred_contrib: the `Booster.predict(..., pred_contrib=True)` call alone, in this process,
    model already loaded and rows already in memory (the issue's reference figure).
  * lightgbm whole process: `python3 -c` that imports lightgbm and numpy, loads the model file,
    reads the rows CSV with numpy, runs pred_contrib and writes the result (.npy), timed from
    process start to exit.
  * aml-explain (ours): the `explain_bench` process timed from start to exit: process start,
    model file parse, CSV read and parse, explainer preparation, TreeSHAP, writing the
    contributions file. Its own per-phase seconds are printed below the table.

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

    lgb_out = os.path.join(args.workdir, "lgb_contrib.npy")
    lgb_script = (
        "import sys, numpy as np, lightgbm as lgb\n"
        "b = lgb.Booster(model_file=sys.argv[1])\n"
        "x = np.loadtxt(sys.argv[2], delimiter=',', skiprows=1)\n"
        "np.save(sys.argv[3], b.predict(x, pred_contrib=True, num_threads=int(sys.argv[4])))\n")
    t_lgb_proc, _ = best_time(lambda: subprocess.run(
        ["python3", "-c", lgb_script, model_path, rows_path, lgb_out, str(args.threads)], check=True),
        args.repeats)

    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    subprocess.run(["cargo", "build", "--release", "-q", "--workspace", "--example", "explain_bench"],
                   cwd=ROOT, env=env, check=True)
    target = env.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    out_path = os.path.join(args.workdir, "ours.bin")
    exe = os.path.join(target, "release", "examples", "explain_bench")
    t_ours, res = best_time(lambda: subprocess.run([exe, model_path, rows_path, out_path], env=env, check=True,
                                                   capture_output=True, text=True), args.repeats)
    ours_info = json.loads(res.stdout.strip().splitlines()[-1])
    ours = np.fromfile(out_path, dtype="<f8").reshape(args.rows, n_features + 1)

    r_lgb = args.rows / t_lgb
    r_lgb_proc = args.rows / t_lgb_proc
    r_shap = args.rows / t_shap
    r_ours = args.rows / t_ours
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = float("nan")
    print(f"model: 500 trees x 31 leaves, {n_features} features; {args.rows} rows (5% NaN); "
          f"{args.threads} threads; best of {args.repeats}; load average {load:.2f}")
    print(f"{'explainer':<34}{'seconds':>9}{'rows/s':>10}{'ours / it':>11}{'max|diff| vs lgb':>18}")
    for name, t, r, diff in [
        ("lightgbm pred_contrib (call)", t_lgb, r_lgb, 0.0),
        ("lightgbm whole process", t_lgb_proc, r_lgb_proc,
         np.max(np.abs(np.load(lgb_out) - lgb_contrib))),
        ("shap.TreeExplainer (call)", t_shap, r_shap, np.max(np.abs(shap_values - lgb_contrib[:, :-1]))),
        ("aml-explain whole process", t_ours, r_ours, np.max(np.abs(ours - lgb_contrib))),
    ]:
        print(f"{name:<34}{t:>9.3f}{r:>10.0f}{r_ours / r:>11.1f}{diff:>18.2e}")
    phases = [("parse model", "parse_model_s"), ("read rows", "read_rows_s"), ("prepare", "prepare_s"),
              ("treeshap", "seconds"), ("write", "write_s"), ("main total", "total_s")]
    print("ours, phases of the best run (s): " + ", ".join(f"{label} {ours_info[k]:.3f}" for label, k in phases)
          + " (model parse and CSV read run concurrently)")
    print(f"ours: precomputed data {ours_info['table_mb']:.1f} MB; TreeSHAP alone {ours_info['rows_per_s']:.0f} rows/s")


if __name__ == "__main__":
    main()
