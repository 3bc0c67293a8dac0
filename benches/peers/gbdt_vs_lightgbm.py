#!/usr/bin/env python3
"""Peer benchmark: our GBDT (aml-train) vs LightGBM on the same data, params and threads.

Generates 200,000 x 100 synthetic binary data (plus a 50,000-row test set) with numpy,
writes it as raw little-endian float32 files, trains LightGBM in-process and ours through
`cargo run --release --workspace --example train_bench`, and prints a table of train
seconds, test AUC and batch-prediction rows/s.

Targets (issue 3): AUC within 0.003 of LightGBM, training time <= 1.0x LightGBM.

Usage: python3 benches/peers/gbdt_vs_lightgbm.py [--rows 200000] [--features 100]
       [--trees 500] [--leaves 31] [--lr 0.05] [--threads 2] [--workdir DIR]
Needs: numpy, lightgbm, scikit-learn (not needed by `cargo test`).
"""
import argparse
import json
import os
import subprocess
import tempfile
import time

import lightgbm as lgb
import numpy as np
from sklearn.metrics import roc_auc_score


def make_data(n, f, seed):
    """Nonlinear logit over the first 20 features, interactions and 5% missing values."""
    return make_data_from(np.random.default_rng(seed), n, f)


def make_data_from(rng, n, f):
    """`make_data` drawing from the generator `rng` (also used by predict_vs_lightgbm.py)."""
    x = rng.standard_normal((n, f)).astype(np.float32)
    logit = (
        1.2 * x[:, 0]
        - 0.8 * x[:, 1] * x[:, 2]
        + np.sin(2.0 * x[:, 3])
        + 0.6 * np.abs(x[:, 4])
        + 0.5 * (x[:, 5] > 0.5)
        + 0.3 * x[:, 6:20].sum(axis=1) / np.sqrt(14.0)
        - 0.4 * x[:, 7] * x[:, 8]
    )
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
    x[rng.random((n, f)) < 0.05] = np.nan
    return x, y


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--test-rows", type=int, default=50_000)
    ap.add_argument("--features", type=int, default=100)
    ap.add_argument("--trees", type=int, default=500)
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    work = a.workdir or tempfile.mkdtemp(prefix="gbdt_bench_")
    os.makedirs(work, exist_ok=True)
    x, y = make_data(a.rows, a.features, 1)
    xt, yt = make_data(a.test_rows, a.features, 2)
    paths = {k: os.path.join(work, k) for k in ["x_train.f32", "y_train.f32", "x_test.f32", "preds.f64"]}
    x.tofile(paths["x_train.f32"])
    y.tofile(paths["y_train.f32"])
    xt.tofile(paths["x_test.f32"])

    # LightGBM: time Dataset construction (binning) + training, like ours.
    params = dict(objective="binary", num_leaves=a.leaves, learning_rate=a.lr, num_threads=a.threads,
                  verbose=-1, seed=0, deterministic=True)
    t0 = time.perf_counter()
    booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=a.trees)
    lgb_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    lgb_pred = booster.predict(xt, num_threads=a.threads)
    lgb_predict = time.perf_counter() - t0
    lgb_auc = roc_auc_score(yt, lgb_pred)

    # Ours (build first so compilation is not timed; the binary reports its own timings).
    env = dict(os.environ)
    subprocess.run(["cargo", "build", "--release", "-q", "--workspace", "--example", "train_bench"],
                   cwd=root, check=True, env=env)
    target = env.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    exe = os.path.join(target, "release", "examples", "train_bench")
    out = subprocess.run([exe, paths["x_train.f32"], paths["y_train.f32"], paths["x_test.f32"], str(a.features),
                          paths["preds.f64"], str(a.trees), str(a.leaves), str(a.lr), str(a.threads)],
                         check=True, capture_output=True, text=True)
    ours = json.loads(out.stdout.strip().splitlines()[-1])
    our_pred = np.fromfile(paths["preds.f64"], dtype=np.float64)
    our_auc = roc_auc_score(yt, our_pred)

    n_test = a.test_rows
    print(f"data: {a.rows} x {a.features} train, {n_test} test; {a.trees} trees, {a.leaves} leaves, "
          f"lr {a.lr}, {a.threads} threads")
    print(f"{'engine':<10} {'train s':>9} {'test AUC':>9} {'predict rows/s':>15}")
    print(f"{'lightgbm':<10} {lgb_train:>9.2f} {lgb_auc:>9.4f} {n_test / lgb_predict:>15,.0f}")
    print(f"{'aml-train':<10} {ours['train_seconds']:>9.2f} {our_auc:>9.4f} "
          f"{n_test / ours['predict_seconds']:>15,.0f}")
    print(f"train time ratio (ours / lightgbm): {ours['train_seconds'] / lgb_train:.3f}   "
          f"AUC diff (ours - lightgbm): {our_auc - lgb_auc:+.4f}   "
          f"predict speed ratio (ours / lightgbm): {lgb_predict / ours['predict_seconds']:.2f}")


if __name__ == "__main__":
    main()
