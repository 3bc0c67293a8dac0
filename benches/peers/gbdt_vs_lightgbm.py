#!/usr/bin/env python3
"""Peer benchmark: our GBDT (aml-train) vs LightGBM on the same data, params and threads.

Generates 200,000 x 100 synthetic binary data (plus a 50,000-row test set) with numpy,
writes it as raw little-endian float32 files, trains LightGBM in-process and ours through
`cargo run --release --workspace --example train_bench`, and prints a table of train
seconds, test AUC and batch-prediction rows/s.

Targets (issue 3): AUC within 0.003 of LightGBM, training time <= 1.0x LightGBM.

What is timed by default: LightGBM `lgb.Dataset` construction (binning) + training on the
in-memory numpy array; ours `Dataset` binning + training (the example's `train_seconds`,
after it has read the raw files). No file loading is inside either figure.

`--whole-process` (issue 16: whole process, file loading included, for both engines alike):
the training set is written once as `train.parquet` (float32 feature columns f0..f99 and a
float32 `label` column, one row group per 65,536 rows, zstd-free plain pyarrow defaults) and
each engine runs in its own fresh process that loads that file from disk and trains:
- LightGBM: `python3 -c <child>` imports lightgbm/pyarrow/numpy, reads the file with
  `pyarrow.parquet.read_table`, converts it to a float32 numpy matrix, builds `lgb.Dataset`,
  trains, predicts the test set;
- ours: `train_bench --parquet train.parquet ...` reads it with `aml_train::data_file`
  (`read_data_file`, the CLI's reader), builds the `Dataset`, trains, predicts.
Reported per engine: `load` (file -> matrix), `train` (binning + boosting), `load+train`
(both, measured inside the process from before the file is opened to the last tree),
`process` (wall clock of the whole child process as the driver sees it: start-up, imports,
load, train, predict, writing predictions) and `process cpu` (user + system CPU seconds of
that child, from `getrusage(RUSAGE_CHILDREN)`: on a shared, overloaded machine the wall
clock mostly measures waiting for a core; note that LightGBM's OpenMP threads spin while
waiting unless `OMP_WAIT_POLICY=PASSIVE` is set, which inflates its CPU time and, under
contention, its wall time). Ratios are given for `load+train`, `process` and `process cpu`.
`--repeat N` runs each engine N times alternately and reports medians. `--goss` trains both
engines with `data_sample_strategy=goss` (LightGBM's default rates 0.2 / 0.1).

Usage: python3 benches/peers/gbdt_vs_lightgbm.py [--rows 200000] [--features 100]
       [--trees 500] [--leaves 31] [--lr 0.05] [--threads 2] [--workdir DIR]
       [--whole-process [--repeat 3] [--goss]]
Needs: numpy, lightgbm, scikit-learn, pyarrow for --whole-process (not needed by `cargo test`).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
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


# The LightGBM side of --whole-process, run as `python3 -c` so it is a fresh process like ours.
LGB_CHILD = r"""
import json, sys, time
t_start = time.perf_counter()
import lightgbm as lgb
import numpy as np
import pyarrow.parquet as pq
t_imported = time.perf_counter()
train_path, x_test_path, n_features, preds_path, trees, leaves, lr, threads = sys.argv[1:9]
n_features, trees, leaves, threads, lr = int(n_features), int(trees), int(leaves), int(threads), float(lr)
t0 = time.perf_counter()
table = pq.read_table(train_path)
y = table.column("label").to_numpy()
x = np.column_stack([table.column(f"f{j}").to_numpy() for j in range(n_features)])
t_loaded = time.perf_counter()
params = dict(objective="binary", num_leaves=leaves, learning_rate=lr, num_threads=threads,
              verbose=-1, seed=0, deterministic=True)
if sys.argv[9:10] == ["goss"]:
    params["data_sample_strategy"] = "goss"
booster = lgb.train(params, lgb.Dataset(x, label=y), num_boost_round=trees)
t_trained = time.perf_counter()
xt = np.fromfile(x_test_path, dtype=np.float32).reshape(-1, n_features)
booster.predict(xt, num_threads=threads).astype(np.float64).tofile(preds_path)
print(json.dumps(dict(import_seconds=t_imported - t_start, load_seconds=t_loaded - t0,
                      train_seconds=t_trained - t_loaded, predict_seconds=time.perf_counter() - t_trained)))
"""


def whole_process(a, x, y, paths, exe):
    """Both engines in fresh processes, each loading train.parquet from disk; medians over --repeat."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    train_parquet = os.path.join(os.path.dirname(paths["x_train.f32"]), "train.parquet")
    cols = {f"f{j}": x[:, j] for j in range(a.features)}
    cols["label"] = y
    pq.write_table(pa.table(cols), train_parquet, row_group_size=65_536)
    runs = {"lightgbm": [], "aml-train": []}
    common = [paths["x_test.f32"], str(a.features)]
    tail = [str(a.trees), str(a.leaves), str(a.lr), str(a.threads)] + (["goss"] if a.goss else [])
    commands = {
        "lightgbm": [sys.executable, "-c", LGB_CHILD, train_parquet] + common
        + [paths["preds_lgb.f64"]] + tail,
        "aml-train": [exe, "--parquet", train_parquet] + common + [paths["preds.f64"]] + tail,
    }
    for _ in range(a.repeat):
        for engine, cmd in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            out = subprocess.run(cmd, check=True, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r["process_seconds"] = wall
            r["cpu_seconds"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            runs[engine].append(r)
    return runs


def report_whole_process(a, runs, yt, paths):
    med = {e: {k: statistics.median(r[k] for r in rs) for k in ("load_seconds", "train_seconds",
                                                                "process_seconds", "cpu_seconds")}
           for e, rs in runs.items()}
    auc = {"lightgbm": roc_auc_score(yt, np.fromfile(paths["preds_lgb.f64"], dtype=np.float64)),
           "aml-train": roc_auc_score(yt, np.fromfile(paths["preds.f64"], dtype=np.float64))}
    load1 = os.getloadavg()
    print(f"data: {a.rows} x {a.features} train (train.parquet), {a.test_rows} test; {a.trees} trees, "
          f"{a.leaves} leaves, lr {a.lr}, {a.threads} threads{', GOSS' if a.goss else ''}; whole process, median of {a.repeat} "
          f"alternating runs; load average after: {load1[0]:.2f}")
    print(f"{'engine':<10} {'load s':>8} {'train s':>8} {'load+train s':>13} {'process s':>10} "
          f"{'process cpu s':>14} {'test AUC':>9}")
    for e in ("lightgbm", "aml-train"):
        m = med[e]
        print(f"{e:<10} {m['load_seconds']:>8.2f} {m['train_seconds']:>8.2f} "
              f"{m['load_seconds'] + m['train_seconds']:>13.2f} {m['process_seconds']:>10.2f} "
              f"{m['cpu_seconds']:>14.2f} {auc[e]:>9.4f}")
    for e, rs in runs.items():
        print(f"  {e} runs (load+train / process s): "
              + ", ".join(f"{r['load_seconds'] + r['train_seconds']:.2f} / {r['process_seconds']:.2f}" for r in rs))
    lt = {e: med[e]["load_seconds"] + med[e]["train_seconds"] for e in med}
    print(f"ratio ours / lightgbm: load+train {lt['aml-train'] / lt['lightgbm']:.3f}, "
          f"process {med['aml-train']['process_seconds'] / med['lightgbm']['process_seconds']:.3f}, "
          f"process cpu {med['aml-train']['cpu_seconds'] / med['lightgbm']['cpu_seconds']:.3f}   "
          f"AUC diff (ours - lightgbm): {auc['aml-train'] - auc['lightgbm']:+.4f}")


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
    ap.add_argument("--whole-process", action="store_true",
                    help="each engine in a fresh process loading train.parquet from disk (see the docstring)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per engine with --whole-process (median)")
    ap.add_argument("--goss", action="store_true", help="both engines with data_sample_strategy=goss")
    a = ap.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    work = a.workdir or tempfile.mkdtemp(prefix="gbdt_bench_")
    os.makedirs(work, exist_ok=True)
    x, y = make_data(a.rows, a.features, 1)
    xt, yt = make_data(a.test_rows, a.features, 2)
    paths = {k: os.path.join(work, k)
             for k in ["x_train.f32", "y_train.f32", "x_test.f32", "preds.f64", "preds_lgb.f64"]}
    x.tofile(paths["x_train.f32"])
    y.tofile(paths["y_train.f32"])
    xt.tofile(paths["x_test.f32"])
    root_env = dict(os.environ)
    if a.whole_process:
        subprocess.run(["cargo", "build", "--release", "-q", "-p", "aml-train", "--example", "train_bench"],
                       cwd=root, check=True, env=root_env)
        target = root_env.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
        exe = os.path.join(target, "release", "examples", "train_bench")
        report_whole_process(a, whole_process(a, x, y, paths, exe), yt, paths)
        return

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
