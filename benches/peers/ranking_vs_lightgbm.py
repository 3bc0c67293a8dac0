#!/usr/bin/env python3
"""Peer benchmark (issue 15 item 1): ranking one whole day as a single query, ours vs LightGBM.

A synthetic "day" is one query of 50,000 rows x 50 features with relevance grades 0-3 skewed like
alert labels (about 85% grade 0, 10% grade 1, 4% grade 2, 1% grade 3); a second day drawn from the
same generator with another seed is the test query. Every model gets 100 trees, 31 leaves, learning
rate 0.05 and the same thread count; the score is NDCG@500 of the test day (gain 2^grade - 1,
discount 1 / log2(2 + position), ties broken by row order).

LightGBM refuses LambdaRank queries over 10,000 rows, so its ranking rows split the training day
into consecutive chunks (5 x 10K, 50 x 1K; its `rank_xendcg` has the same limit); L2 regression on
the grades is shown too. Ours trains the whole day as one query through `aml-miner gbdt train` (release build, its own
target dir) on a headerless TSV file (label first) with a LightGBM-style `.query` sidecar, and
scores the test day with `aml-miner gbdt predict --raw`. Our time is the wall time of the train
command (reading the TSV included); LightGBM's is Dataset construction plus training. The ratio is
train time over the train time of the best-NDCG LightGBM row.

Usage: python3 benches/peers/ranking_vs_lightgbm.py [--rows 50000] [--features 50] [--trees 100]
       [--leaves 31] [--lr 0.05] [--threads 2] [--workdir DIR] [--keep-build]
Needs: numpy, lightgbm 4 (not needed by `cargo test`).
"""
import argparse
import os
import shutil
import subprocess
import tempfile
import time

import lightgbm as lgb
import numpy as np

GRADE_SHARES = [0.85, 0.10, 0.04, 0.01]


def make_day(rng, n, f):
    """Features (float32, 3% missing) and skewed grades 0-3 from a noisy nonlinear relevance."""
    x = rng.standard_normal((n, f)).astype(np.float32)
    x[:, 10:15] = np.exp(x[:, 10:15])  # heavy-tailed "amount-like" columns
    latent = (
        1.0 * x[:, 0]
        + 0.7 * np.tanh(x[:, 1] * x[:, 2])
        + 0.5 * np.sin(2.0 * x[:, 3])
        + 0.4 * np.log1p(x[:, 10])
        - 0.3 * (x[:, 4] > 1.0)
        + 0.25 * x[:, 5:10].sum(axis=1) / np.sqrt(5.0)
        + 0.6 * rng.standard_normal(n)
    )
    cuts = np.quantile(latent, np.cumsum(GRADE_SHARES)[:-1])
    y = np.searchsorted(cuts, latent).astype(np.float64)
    x[rng.random((n, f)) < 0.03] = np.nan
    return x, y


def ndcg_at(y, scores, k):
    """NDCG@k of one query; descending score, ties by row order (stable sort)."""
    order = np.argsort(-scores, kind="stable")[:k]
    disc = 1.0 / np.log2(np.arange(len(order)) + 2.0)
    dcg = float(((2.0 ** y[order] - 1.0) * disc).sum())
    ideal = np.sort(y)[::-1][:k]
    idcg = float(((2.0 ** ideal - 1.0) * disc[: len(ideal)]).sum())
    return dcg / idcg if idcg > 0 else float("nan")


def write_tsv(path, x, y, query=None):
    table = np.column_stack([y.astype(np.float64), x.astype(np.float64)])
    np.savetxt(path, table, fmt="%.9g", delimiter="\t")
    if query is not None:
        with open(path + ".query", "w") as fh:
            fh.write("".join(f"{q}\n" for q in query))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--features", type=int, default=50)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--k", type=int, default=500)
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep-build", action="store_true", help="do not delete target/release")
    a = ap.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    work = a.workdir or tempfile.mkdtemp(prefix="ranking_bench_")
    os.makedirs(work, exist_ok=True)
    x, y = make_day(np.random.default_rng(1), a.rows, a.features)
    xt, yt = make_day(np.random.default_rng(2), a.rows, a.features)
    print(f"train day: {a.rows} rows x {a.features} features, grades "
          f"{np.bincount(y.astype(int), minlength=4).tolist()}; test day {len(yt)} rows; "
          f"{a.trees} trees, {a.leaves} leaves, lr {a.lr}, {a.threads} threads; metric NDCG@{a.k}")

    base = dict(num_leaves=a.leaves, learning_rate=a.lr, num_threads=a.threads, verbose=-1,
                seed=0, deterministic=True)
    rows = []

    def lightgbm(name, objective, groups=None, **extra):
        params = dict(base, objective=objective, **extra)
        t0 = time.perf_counter()
        booster = lgb.train(params, lgb.Dataset(x, label=y, group=groups), num_boost_round=a.trees)
        secs = time.perf_counter() - t0
        ndcg = ndcg_at(yt, booster.predict(xt, raw_score=True, num_threads=a.threads), a.k)
        rows.append((name, ndcg, secs, True))

    def chunks(size):
        return [size] * (a.rows // size) + ([a.rows % size] if a.rows % size else [])

    lightgbm("LightGBM lambdarank 5x10K", "lambdarank", chunks(10_000))
    lightgbm("LightGBM lambdarank 50x1K", "lambdarank", chunks(1_000))
    lightgbm("LightGBM lambdarank 5x10K trunc 500", "lambdarank", chunks(10_000),
             lambdarank_truncation_level=500)
    lightgbm("LightGBM rank_xendcg 5x10K", "rank_xendcg", chunks(10_000))
    lightgbm("LightGBM L2 regression", "regression")

    # Ours: release CLI, its own target dir.
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(root, "target"), CARGO_INCREMENTAL="0")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "aml-miner"], cwd=root,
                   env=env, check=True)
    exe = os.path.join(root, "target", "release", "aml-miner")
    train_path = os.path.join(work, "train.tsv")
    test_path = os.path.join(work, "test.tsv")
    write_tsv(train_path, x, y, [a.rows])
    write_tsv(test_path, xt, yt)
    help_text = subprocess.run([exe, "gbdt", "train", "--help"], capture_output=True,
                               text=True).stdout

    def ours(name, objective, *extra):
        needed = f"--{extra[0]}" if extra else objective
        if needed not in help_text:
            rows.append((name + " (not available)", float("nan"), float("nan"), False))
            return
        model = os.path.join(work, f"{name.replace(' ', '_')}.txt")
        preds = model + ".pred"
        cmd = [exe, "gbdt", "train", "--data", train_path, "--objective", objective,
               "--num-trees", str(a.trees), "--num-leaves", str(a.leaves),
               "--learning-rate", str(a.lr), "--threads", str(a.threads), "--out", model]
        if extra:
            cmd += [f"--{extra[0]}", str(extra[1])]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
        secs = time.perf_counter() - t0
        subprocess.run([exe, "gbdt", "predict", "--model", model, "--data", test_path, "--raw",
                        "--out", preds], check=True, stderr=subprocess.DEVNULL)
        scores = np.loadtxt(preds, dtype=np.float64)
        rows.append((name, ndcg_at(yt, scores, a.k), secs, False))

    ours("ours lambdarank whole day", "lambdarank")
    ours("ours lambdarank whole day trunc 500", "lambdarank", "lambdarank-truncation-level", 500)
    ours("ours rank_xendcg whole day", "rank_xendcg")

    best = max((r for r in rows if r[3]), key=lambda r: r[1])
    print(f"{'model':<40} {'NDCG@' + str(a.k):>9} {'train s':>8} {'x best LGBM':>12}")
    for name, ndcg, secs, _ in rows:
        print(f"{name:<40} {ndcg:>9.4f} {secs:>8.2f} {secs / best[2]:>12.2f}")
    print(f"(best LightGBM row: {best[0]}, NDCG@{a.k} {best[1]:.4f}, {best[2]:.2f} s)")
    if not a.keep_build:
        shutil.rmtree(os.path.join(root, "target", "release"), ignore_errors=True)
    if not a.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
