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

Rows of ours that draw random numbers (LambdaRank pair sampling, XE-NDCG's gamma) run once per
training seed (`--seeds`, default 3) and print the mean and the min..max. Everything repeats for
every day pair (`--day-pairs`, default 1:2 and 3:4: training and test day generator seeds); the
summary says which rows beat the best LightGBM row on every day pair with every seed. `--extra`
adds rows of ours with any `gbdt train` flags (to compare settings in one run).

Usage: python3 benches/peers/ranking_vs_lightgbm.py [--rows 50000] [--features 50] [--trees 100]
       [--leaves 31] [--lr 0.05] [--threads 2] [--day-pairs 1:2,3:4] [--seeds 3]
       [--extra 'NAME=--objective lambdarank ...'] [--skip-slow] [--workdir DIR] [--keep-build]
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


def parse_day_pairs(text):
    """`1:2,3:4` -> [(1, 2), (3, 4)]: generator seeds of (training day, test day)."""
    pairs = []
    for item in filter(None, text.split(",")):
        train_seed, test_seed = item.split(":")
        pairs.append((int(train_seed), int(test_seed)))
    return pairs


def spread(values):
    """`mean` and `min..max` of a list (one value: itself)."""
    v = np.asarray(values, dtype=float)
    return float(v.mean()), float(v.min()), float(v.max())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--features", type=int, default=50)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--k", type=int, default=500)
    ap.add_argument("--day-pairs", default="1:2,3:4",
                    help="generator seeds train:test, comma separated (1:2 = the bench days)")
    ap.add_argument("--seeds", type=int, default=3,
                    help="training seeds of our seeded rows (pair sampling, XE-NDCG gamma)")
    ap.add_argument("--extra", action="append", default=[], metavar="NAME=FLAGS",
                    help="another row of ours: `aml-miner gbdt train` FLAGS (objective included), "
                         "run over every seed, e.g. 'sig 2=--objective lambdarank --sigmoid 2'")
    ap.add_argument("--lgbm-trees", type=int, action="append", default=[], metavar="N",
                    help="also LightGBM's rank_xendcg 5x10K and L2 rows with N trees (to compare "
                         "rows of ours with more trees fairly)")
    ap.add_argument("--skip-slow", action="store_true",
                    help="leave out the truncation-500 rows (the slowest, 20-40 s each)")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep-build", action="store_true", help="do not delete target/release")
    a = ap.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    work = a.workdir or tempfile.mkdtemp(prefix="ranking_bench_")
    os.makedirs(work, exist_ok=True)
    # Ours: release CLI, its own target dir.
    env = dict(os.environ, CARGO_TARGET_DIR=os.path.join(root, "target"), CARGO_INCREMENTAL="0")
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "aml-miner"], cwd=root,
                   env=env, check=True)
    exe = os.path.join(root, "target", "release", "aml-miner")
    help_text = subprocess.run([exe, "gbdt", "train", "--help"], capture_output=True,
                               text=True).stdout
    seeds = list(range(a.seeds))
    sampled = ["--objective", "lambdarank", "--lambdarank-pair-sample", "3",
               "--lambdarank-pair-norm"]
    # (name, flags, seeded): every seeded row runs once per seed.
    our_rows = [
        ("ours lambdarank whole day", ["--objective", "lambdarank"], False),
        ("ours rank_xendcg whole day", ["--objective", "rank_xendcg"], True),
        ("ours lambdarank whole day, pair sample m=3 + sqrt norm", sampled, True),
    ]
    if not a.skip_slow:
        our_rows.insert(1, ("ours lambdarank whole day trunc 500",
                            ["--objective", "lambdarank", "--lambdarank-truncation-level", "500"],
                            False))
    for spec in a.extra:
        name, flags = spec.split("=--", 1)  # names may hold "=" ("m=3"), flags start with --
        our_rows.append((name, ("--" + flags).split(), True))

    summary = {}  # name -> list of (ndcg mean per day pair)
    for day_pair, (train_seed, test_seed) in enumerate(parse_day_pairs(a.day_pairs), start=1):
        x, y = make_day(np.random.default_rng(train_seed), a.rows, a.features)
        xt, yt = make_day(np.random.default_rng(test_seed), a.rows, a.features)
        print(f"\nday pair {day_pair}: train day seed {train_seed}, test day seed {test_seed}; "
              f"{a.rows} rows x {a.features} features, grades "
              f"{np.bincount(y.astype(int), minlength=4).tolist()}; {a.trees} trees, "
              f"{a.leaves} leaves, lr {a.lr}, {a.threads} threads; metric NDCG@{a.k}", flush=True)

        base = dict(num_leaves=a.leaves, learning_rate=a.lr, num_threads=a.threads, verbose=-1,
                    seed=0, deterministic=True)
        rows = []

        def lightgbm(name, objective, groups=None, trees=None, **extra):
            params = dict(base, objective=objective, **extra)
            t0 = time.perf_counter()
            booster = lgb.train(params, lgb.Dataset(x, label=y, group=groups),
                                num_boost_round=trees or a.trees)
            secs = time.perf_counter() - t0
            ndcg = ndcg_at(yt, booster.predict(xt, raw_score=True, num_threads=a.threads), a.k)
            rows.append((name, [ndcg], [secs], True))

        def chunks(size):
            return [size] * (a.rows // size) + ([a.rows % size] if a.rows % size else [])

        lightgbm("LightGBM lambdarank 5x10K", "lambdarank", chunks(10_000))
        lightgbm("LightGBM lambdarank 50x1K", "lambdarank", chunks(1_000))
        if not a.skip_slow:
            lightgbm("LightGBM lambdarank 5x10K trunc 500", "lambdarank", chunks(10_000),
                     lambdarank_truncation_level=500)
        lightgbm("LightGBM rank_xendcg 5x10K", "rank_xendcg", chunks(10_000))
        lightgbm("LightGBM L2 regression", "regression")
        for trees in a.lgbm_trees:
            lightgbm(f"LightGBM rank_xendcg 5x10K, {trees} trees", "rank_xendcg", chunks(10_000),
                     trees=trees)
            lightgbm(f"LightGBM L2 regression, {trees} trees", "regression", trees=trees)

        train_path = os.path.join(work, f"train{day_pair}.tsv")
        test_path = os.path.join(work, f"test{day_pair}.tsv")
        write_tsv(train_path, x, y, [a.rows])
        write_tsv(test_path, xt, yt)

        def ours(name, flags, seeded):
            missing = [f for f in flags if f.startswith("--") and f not in help_text]
            if missing:
                rows.append((name + f" (no {' '.join(missing)})", [float("nan")],
                             [float("nan")], False))
                return
            ndcgs, times = [], []
            for seed in (seeds if seeded else [0]):
                model = os.path.join(work, "model.txt")
                preds = model + ".pred"
                # A row's own --num-trees / --num-leaves / --learning-rate replace the defaults.
                defaults = {"--num-trees": a.trees, "--num-leaves": a.leaves,
                            "--learning-rate": a.lr}
                base = [t for k, v in defaults.items() if k not in flags for t in (k, str(v))]
                cmd = [exe, "gbdt", "train", "--data", train_path, *base,
                       "--threads", str(a.threads), "--seed", str(seed), "--out", model, *flags]
                t0 = time.perf_counter()
                subprocess.run(cmd, check=True, stderr=subprocess.DEVNULL)
                times.append(time.perf_counter() - t0)
                subprocess.run([exe, "gbdt", "predict", "--model", model, "--data", test_path,
                                "--raw", "--out", preds], check=True, stderr=subprocess.DEVNULL)
                ndcgs.append(ndcg_at(yt, np.loadtxt(preds, dtype=np.float64), a.k))
            rows.append((name, ndcgs, times, False))

        for name, flags, seeded in our_rows:
            ours(name, flags, seeded)

        best = max((r for r in rows if r[3]), key=lambda r: r[1][0])
        best_secs = best[2][0]
        print(f"{'model':<58} {'NDCG@' + str(a.k):>9} {'min..max':>15} {'train s':>8} "
              f"{'x best LGBM':>11}")
        for name, ndcgs, times, _ in rows:
            mean, lo, hi = spread(ndcgs)
            secs = float(np.mean(times))
            span = f"{lo:.4f}..{hi:.4f}" if len(ndcgs) > 1 else ""
            print(f"{name:<58} {mean:>9.4f} {span:>15} {secs:>8.2f} {secs / best_secs:>11.2f}",
                  flush=True)
            summary.setdefault(name, []).append((mean, lo, best[1][0]))
        print(f"(best LightGBM row: {best[0]}, NDCG@{a.k} {best[1][0]:.4f}, {best_secs:.2f} s; "
              f"seeded rows: mean and min..max over seeds {seeds})")

    print(f"\nsummary over day pairs: NDCG@{a.k} mean over seeds per day pair, and whether the "
          "row's worst seed beats the best LightGBM row on every day pair")
    for name, per_pair in summary.items():
        cells = " ".join(f"{mean:.4f}" for mean, _, _ in per_pair)
        wins = all(lo > best for _, lo, best in per_pair)
        print(f"{name:<58} {cells}  {'beats best LightGBM' if wins else ''}")
    if not a.keep_build:
        shutil.rmtree(os.path.join(root, "target", "release"), ignore_errors=True)
    if not a.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
