#!/usr/bin/env python3
"""Generate the LightGBM training fixture for aml_train's GBDT engine.

Needs: numpy, lightgbm 4.x (written with 4.7.0). Writes
crates/aml-train/tests/fixtures/training/:

- data_binary.tsv, data_regression.tsv: label then 8 features, header line,
  `nan` for missing values. Every feature value is an exact float32 (our
  Dataset stores f32), printed as the shortest float64 text of that value so
  LightGBM (f64) and our reader (f32) see the same number.
- model_<case>.txt: LightGBM's model text of each case.
- pred_<case>.txt: LightGBM's raw score of every training row (one per line).
- cases.json: every case's parameters (LightGBM names) and, per feature,
  LightGBM's number of bins (Dataset.feature_num_bin).

The Rust test crates/aml-train/tests/lightgbm_training.rs trains our engine on
the same files with the same parameters and compares the trees split by split.

The data is small but hard: values at adjacent float32 numbers, ties, a NaN
column, a column mostly zero with values of both signs, a constant column, a
skewed column, an all-negative column. Every feature has fewer distinct values
than max_bin - 1, so both engines give every distinct value its own bin (see
the test for where the bin boundaries legitimately differ).

Run from the repository root: python3 scripts/fixtures_training.py
"""

import json
import os

import lightgbm as lgb
import numpy as np

OUT = os.path.join("crates", "aml-train", "tests", "fixtures", "training")
SEED = 20261130
ROWS = 2000
FEATURES = ["grid", "adjacent", "nan", "zeros", "constant", "skewed", "negative", "coarse"]


def features(rng):
    n = ROWS
    f32 = np.float32
    # grid: eighths in [-2.5, 2.5], many ties.
    grid = rng.integers(-20, 21, n) / 8.0
    # adjacent: 40 consecutive float32 numbers starting at 1.0.
    ladder = [f32(1.0)]
    for _ in range(39):
        ladder.append(np.nextafter(ladder[-1], f32(2.0), dtype=f32))
    adjacent = np.array(ladder, dtype=f32).astype(np.float64)[rng.integers(0, 40, n)]
    # nan: integers 0..30, a fifth missing.
    nan = rng.integers(0, 31, n).astype(np.float64)
    nan[rng.random(n) < 0.2] = np.nan
    # zeros: 60% zeros, the rest quarters of both signs.
    zeros = rng.integers(-12, 13, n) / 4.0
    zeros[rng.random(n) < 0.6] = 0.0
    # constant.
    constant = np.full(n, 3.5)
    # skewed: a lognormal on a float32 grid, capped, a long right tail.
    skewed = np.minimum(np.floor(np.exp(rng.normal(0.0, 1.2, n)) * 4.0) / 4.0, 12.0)
    # negative: all below zero, few distinct values with heavy ties.
    negative = -np.exp2(rng.integers(0, 12, n).astype(np.float64)) / 1024.0
    # coarse: three values and a few NaNs.
    coarse = rng.choice([0.5, 1.5, 7.0], n, p=[0.5, 0.3, 0.2])
    coarse[rng.random(n) < 0.03] = np.nan
    x = np.column_stack([grid, adjacent, nan, zeros, constant, skewed, negative, coarse])
    assert np.array_equal(x.astype(np.float32).astype(np.float64), x, equal_nan=True)
    return x


def signal(x, rng):
    nan_col = np.where(np.isnan(x[:, 2]), 25.0, x[:, 2])
    coarse = np.where(np.isnan(x[:, 7]), 4.0, x[:, 7])
    adj_step = (x[:, 1] - 1.0) / np.spacing(np.float32(1.0)).astype(np.float64)
    return (
        1.2 * np.sin(x[:, 0])
        + 0.05 * adj_step
        - 0.04 * nan_col
        + 0.5 * x[:, 3]
        + 0.3 * np.log1p(x[:, 5])
        + 0.3 * np.log2(-x[:, 6] * 1024.0)
        + 0.2 * coarse
        + rng.normal(0.0, 0.5, len(x))
    )


def text(v):
    return "nan" if np.isnan(v) else repr(float(v))


def write_data(path, labels, x):
    lines = ["label\t" + "\t".join(FEATURES)]
    for y, row in zip(labels, x):
        lines.append(text(y) + "\t" + "\t".join(text(v) for v in row))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


# LightGBM parameters the engine shares, in LightGBM's names. `min_data_in_bin`
# is 1 because our binning has no such minimum; determinism, one thread, no
# sampling; the binning sample holds every row. lambda_l2 = 0 and a small
# min_gain_to_split keep LightGBM's pruning of features that cannot split a
# parent leaf exact (see the Rust test); the `l2_pruning` case shows it otherwise.
COMMON = {
    "learning_rate": 0.1,
    "num_leaves": 15,
    "max_depth": -1,
    "min_data_in_leaf": 20,
    "min_sum_hessian_in_leaf": 1e-3,
    "lambda_l1": 0.0,
    "lambda_l2": 0.0,
    "min_gain_to_split": 1e-3,
    "feature_fraction": 1.0,
    "bagging_fraction": 1.0,
    "bagging_freq": 0,
    "bin_construct_sample_cnt": 200000,
    "min_data_in_bin": 1,
    "feature_pre_filter": False,
    "boost_from_average": True,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 1,
    "seed": 7,
    "verbose": -1,
}

# `agreement` tells the Rust test how far the two engines must agree:
# "all" trees, or up to a documented divergence.
CASES = [
    # Binary with min_data_in_leaf = 0: leaves are limited by their hessian sums,
    # which both engines compute exactly.
    {"name": "binary_hessian", "data": "binary", "objective": "binary", "max_bin": 255,
     "num_iterations": 30, "agreement": "all",
     "params": {"min_data_in_leaf": 0, "min_sum_hessian_in_leaf": 3.3}},
    # Binary with LightGBM's default min_data_in_leaf = 20: LightGBM checks row counts
    # estimated from hessians (exact while every hessian is equal) and after some rounds
    # grows a leaf under 20 rows or refuses a split whose estimate falls under 20.
    {"name": "binary_min_data", "data": "binary", "objective": "binary", "max_bin": 63,
     "num_iterations": 30, "agreement": "until_estimated_count", "params": {}},
    {"name": "regression_leaves", "data": "regression", "objective": "regression", "max_bin": 255,
     "num_iterations": 30, "agreement": "all", "params": {}},
    {"name": "regression_depth", "data": "regression", "objective": "regression", "max_bin": 63,
     "num_iterations": 20, "agreement": "until_pruned_feature",
     "params": {"num_leaves": 31, "max_depth": 4, "learning_rate": 0.3, "min_data_in_leaf": 5,
                "lambda_l1": 0.5}},
    # lambda_l2 > 0: a split can lose against its parent, and LightGBM then skips
    # the feature in the whole subtree. Often it does not matter ...
    {"name": "regression_l2", "data": "regression", "objective": "regression", "max_bin": 255,
     "num_iterations": 30, "agreement": "all",
     "params": {"lambda_l2": 20.0, "min_gain_to_split": 0.0}},
    # ... and with more, smaller leaves it does.
    {"name": "regression_l2_pruning", "data": "regression", "objective": "regression", "max_bin": 255,
     "num_iterations": 10, "agreement": "until_pruned_feature",
     "params": {"lambda_l2": 30.0, "min_gain_to_split": 0.0, "num_leaves": 31}},
]


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(SEED)
    x = features(rng)
    z = signal(x, rng)
    labels = {
        # Noisy classes: a hard problem, so the models do not separate it perfectly.
        "binary": (z + rng.normal(0.0, 1.0, ROWS) > np.median(z)).astype(np.float64),
        # Regression labels on a 1/64 grid: exact in text and in f32.
        "regression": np.round(z * 64.0) / 64.0,
    }
    for name, y in labels.items():
        write_data(os.path.join(OUT, f"data_{name}.tsv"), y, x)
    cases = []
    for case in CASES:
        params = dict(COMMON, objective=case["objective"], max_bin=case["max_bin"], **case["params"])
        ds = lgb.Dataset(x, labels[case["data"]], feature_name=FEATURES, params=params, free_raw_data=False)
        booster = lgb.train(params, ds, num_boost_round=case["num_iterations"])
        with open(os.path.join(OUT, f"model_{case['name']}.txt"), "w") as f:
            f.write(booster.model_to_string())
        raw = booster.predict(x, raw_score=True)
        with open(os.path.join(OUT, f"pred_{case['name']}.txt"), "w") as f:
            f.write("".join(repr(float(v)) + "\n" for v in raw))
        params["num_iterations"] = case["num_iterations"]
        cases.append(
            {
                "name": case["name"],
                "data": f"data_{case['data']}.tsv",
                "agreement": case["agreement"],
                "params": params,
                "lightgbm_num_bins": [ds.feature_num_bin(i) for i in range(len(FEATURES))],
            }
        )
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"lightgbm_version": lgb.__version__, "cases": cases}, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
