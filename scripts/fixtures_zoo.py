#!/usr/bin/env python3
"""The LightGBM model zoo (issue 12): one small model of every kind LightGBM writes.

Needs: pip install lightgbm numpy   (tested with lightgbm 4.7)

Trains, from a fixed numpy seed, small models (300 rows, <= 12 trees, float64 data
with NaNs, exact zeros, repeated values and a categorical column) of every kind
issue 12 lists, and writes per case into crates/aml-models/tests/fixtures/:
  zoo_<kind>.model.txt    LightGBM text model (all trees, also for the early-stopped one)
  zoo_<kind>.inputs.tsv   header of feature names, then one row per input (repr floats,
                          `nan`): random rows, rows on / next to every split threshold
                          (and its float32 rounding), zero-edge rows, and for categorical
                          models negative, unseen and non-integer categories
  zoo_<kind>.preds.tsv    raw_f64[_k], pred_f64[_k], raw_f32[_k]: LightGBM raw score and
                          transformed prediction on the f64 inputs, raw score on the inputs
                          cast to float32 (`_k` = class k for multiclass models)
  zoo_<kind>.contrib.tsv  pred_contrib on the f64 inputs (LightGBM's layout: per class,
                          one column per feature then the expected value); absent where
                          LightGBM refuses to explain (linear trees)
  zoo_<kind>.meta.tsv     key, value: what the Rust test needs beyond the files above
                          (num_class, best_iteration, whether contrib exists)

The Rust test crates/aml-models/tests/zoo.rs checks every case.
"""
import os
import sys

import numpy as np
import lightgbm as lgb

from fixtures_models import OUT, ZERO, fmt, probe_rows

N = 300
F = 6
CAT = 5  # column index of the categorical feature in the categorical cases
NAMES = [f"f{i}" for i in range(F)]


def make_data(rng, n):
    x = rng.normal(size=(n, F))
    x[:, 1] = np.round(x[:, 1] * 2.0) / 2.0  # repeated values -> thresholds between bins
    x[:, 2] = np.where(rng.random(n) < 0.35, 0.0, x[:, 2])  # many exact zeros
    x[:, 3] = np.where(rng.random(n) < 0.2, np.nan, x[:, 3])  # NaNs
    x[:, 4] = np.where(rng.random(n) < 0.3, 0.0, np.where(rng.random(n) < 0.2, np.nan, x[:, 4]))
    x[:, CAT] = rng.integers(0, 8, size=n).astype(float)  # small integers incl. 0 (categories)
    return x


def probe_inputs(rng, booster, base, categorical):
    edges = [0.0, -0.0, ZERO, -ZERO, ZERO / 2, 1e-40, np.nan]
    rows = probe_rows(rng, booster, base, max_thresholds=12, edges=edges)
    if categorical:
        # negative, unseen, huge, non-integer categories and NaN
        for v in (-1.0, -3.0, 8.0, 31.0, 32.0, 1000.0, 2.5, 0.0, np.nan, 1e9):
            r = base[rng.integers(len(base))].copy()
            r[CAT] = v
            rows.append(r)
    return np.array(rows)


def columns(a):
    a = np.asarray(a)
    return a.reshape(len(a), -1)


def write_case(name, booster, x, num_class, best_iteration=0):
    booster.save_model(os.path.join(OUT, f"{name}.model.txt"), num_iteration=-1)
    with open(os.path.join(OUT, f"{name}.inputs.tsv"), "w") as fh:
        fh.write("\t".join(booster.feature_name()) + "\n")
        for r in x:
            fh.write("\t".join(fmt(v) for v in r) + "\n")
    it = best_iteration if best_iteration > 0 else None
    raw = columns(booster.predict(x, raw_score=True, num_iteration=it))
    pred = columns(booster.predict(x, num_iteration=it))
    raw32 = columns(booster.predict(x.astype(np.float32), raw_score=True, num_iteration=it))
    suffix = [""] if num_class == 1 else [f"_{k}" for k in range(num_class)]
    header = [f"{c}{s}" for c in ("raw_f64", "pred_f64", "raw_f32") for s in suffix]
    with open(os.path.join(OUT, f"{name}.preds.tsv"), "w") as fh:
        fh.write("\t".join(header) + "\n")
        for a, b, c in zip(raw, pred, raw32):
            fh.write("\t".join(fmt(v) for v in (*a, *b, *c)) + "\n")
    contrib_path = os.path.join(OUT, f"{name}.contrib.tsv")
    try:
        contrib = columns(booster.predict(x, pred_contrib=True, num_iteration=it))
    except lgb.basic.LightGBMError as e:
        print(name, "no pred_contrib:", str(e).splitlines()[0], file=sys.stderr)
        contrib = None
        if os.path.exists(contrib_path):
            os.remove(contrib_path)
    if contrib is not None:
        with open(contrib_path, "w") as fh:
            for r in contrib:
                fh.write("\t".join(fmt(v) for v in r) + "\n")
    with open(os.path.join(OUT, f"{name}.meta.tsv"), "w") as fh:
        fh.write(f"num_class\t{num_class}\n")
        fh.write(f"best_iteration\t{best_iteration}\n")
        fh.write(f"contrib\t{int(contrib is not None)}\n")


def group_sizes(rng, n):
    sizes, left = [], n
    while left > 0:
        s = min(left, int(rng.integers(10, 40)))
        sizes.append(s)
        left -= s
    return sizes


def main():
    rng = np.random.default_rng(20261130)
    x = make_data(rng, N)
    signal = 1.2 * x[:, 0] - 0.8 * np.nan_to_num(x[:, 3]) + 0.6 * x[:, 1] + 0.5 * (x[:, 2] == 0) + 0.3 * x[:, CAT]
    cat_effect = np.array([0.9, -0.7, 0.2, 1.1, -1.2, 0.0, 0.6, -0.4])[x[:, CAT].astype(int)]
    noise = rng.normal(scale=0.5, size=N)
    y_reg = signal + noise
    y_pos = np.exp(0.4 * signal + 0.2 * noise)  # strictly positive (gamma, mape)
    y_count = rng.poisson(np.exp(0.3 * signal)).astype(float)  # counts incl. zeros (poisson, tweedie)
    y_bin = (signal + noise > 0.8).astype(float)
    y_prob = 1.0 / (1.0 + np.exp(-(signal + noise - 0.8)))  # labels in [0, 1] (cross entropy)
    y_cat = (signal + 2.0 * cat_effect + noise > 0.8).astype(float)
    y_multi = np.digitize(signal + noise, [0.0, 1.2]).astype(float)  # 3 classes
    y_rank = np.clip(np.round(signal + noise + 1.0), 0, 4)
    groups = group_sizes(rng, N)
    base_test = make_data(rng, 30)
    common = {
        "verbose": -1,
        "num_threads": 1,
        "deterministic": True,
        "seed": 7,
        "num_leaves": 7,
        "min_data_in_leaf": 8,
        "learning_rate": 0.2,
    }

    def fit(params, y, rounds=10, group=None, categorical="auto", valid=None):
        ds = lgb.Dataset(x, y, group=group, feature_name=NAMES, categorical_feature=categorical, free_raw_data=False)
        kw = {}
        if valid is not None:
            vx, vy = valid
            kw["valid_sets"] = [lgb.Dataset(vx, vy, reference=ds)]
            kw["callbacks"] = [lgb.early_stopping(3, verbose=False)]
            kw["keep_training_booster"] = True  # otherwise the booster is cut to best_iteration
        return lgb.train({**common, **params}, ds, num_boost_round=rounds, **kw)

    cases = {}  # name -> (booster, num_class, best_iteration, categorical)

    def add(name, booster, num_class=1, best_iteration=0, categorical=False):
        cases[name] = (booster, num_class, best_iteration, categorical)

    for obj, y in [
        ("regression", y_reg),
        ("regression_l1", y_reg),
        ("huber", y_reg),
        ("fair", y_reg),
        ("quantile", y_reg),
        ("mape", y_pos),
        ("poisson", y_count),
        ("gamma", y_pos),
        ("tweedie", y_count),
    ]:
        add(f"zoo_{obj}", fit({"objective": obj}, y))
    add("zoo_binary_sigmoid", fit({"objective": "binary", "sigmoid": 0.7}, y_bin))
    add("zoo_cross_entropy", fit({"objective": "cross_entropy"}, y_prob))
    add("zoo_cross_entropy_lambda", fit({"objective": "cross_entropy_lambda"}, y_prob))
    add("zoo_lambdarank", fit({"objective": "lambdarank", "min_data_in_leaf": 5}, y_rank, group=groups))
    add("zoo_rank_xendcg", fit({"objective": "rank_xendcg", "min_data_in_leaf": 5}, y_rank, group=groups))
    add("zoo_multiclass", fit({"objective": "multiclass", "num_class": 3}, y_multi, rounds=5), num_class=3)
    add("zoo_multiclassova", fit({"objective": "multiclassova", "num_class": 3}, y_multi, rounds=5), num_class=3)
    add(
        "zoo_categorical",
        fit({"objective": "binary", "min_data_per_group": 5, "cat_smooth": 1.0}, y_cat, categorical=[CAT]),
        categorical=True,
    )
    add("zoo_zero_as_missing", fit({"objective": "binary", "zero_as_missing": True}, y_bin))
    add("zoo_no_missing", fit({"objective": "binary", "use_missing": False}, y_bin))
    add(
        "zoo_rf",
        fit({"objective": "binary", "boosting": "rf", "bagging_fraction": 0.7, "bagging_freq": 1}, y_bin),
    )
    add("zoo_dart", fit({"objective": "binary", "boosting": "dart", "drop_rate": 0.3}, y_bin))
    add("zoo_goss", fit({"objective": "binary", "data_sample_strategy": "goss", "learning_rate": 0.3}, y_bin))
    add("zoo_linear_tree", fit({"objective": "regression", "linear_tree": True, "linear_lambda": 0.1}, y_reg))
    vx = make_data(rng, 120)
    vsig = 1.2 * vx[:, 0] - 0.8 * np.nan_to_num(vx[:, 3]) + 0.6 * vx[:, 1] + 0.5 * (vx[:, 2] == 0) + 0.3 * vx[:, CAT]
    vy = (vsig + rng.normal(scale=1.5, size=len(vx)) > 0.8).astype(float)
    es = fit({"objective": "binary", "learning_rate": 0.5, "num_leaves": 15}, y_bin, rounds=20, valid=(vx, vy))
    if not 0 < es.best_iteration < es.current_iteration():
        sys.exit(f"early stopping did not stop early: best {es.best_iteration} of {es.current_iteration()}")
    add("zoo_early_stopped", es, best_iteration=es.best_iteration)
    add("zoo_regression_sqrt", fit({"objective": "regression", "reg_sqrt": True}, y_reg))

    def logistic_objective(preds, train_set):  # a custom objective: no `objective=` line is written
        p = 1.0 / (1.0 + np.exp(-preds))
        return p - train_set.get_label(), p * (1.0 - p)

    add("zoo_custom_objective", fit({"objective": logistic_objective}, y_bin))

    total = 0
    for name, (booster, num_class, best, categorical) in cases.items():
        write_case(name, booster, probe_inputs(rng, booster, base_test, categorical), num_class, best)
        size = sum(
            os.path.getsize(os.path.join(OUT, f"{name}{ext}"))
            for ext in (".model.txt", ".inputs.tsv", ".preds.tsv", ".contrib.tsv", ".meta.tsv")
            if os.path.exists(os.path.join(OUT, f"{name}{ext}"))
        )
        total += size
        print(f"wrote {name}: {booster.num_trees()} trees, {size} bytes", file=sys.stderr)
    print(f"total {total} bytes", file=sys.stderr)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    main()
