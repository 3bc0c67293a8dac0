#!/usr/bin/env python3
"""Generate TreeSHAP conformance fixtures for crates/aml-explain/tests/fixtures/.

For a binary and a lambdarank LightGBM model (small, trained on seeded synthetic data with NaNs and
exact zeros, so all three missing types occur: None, Zero via zero_as_missing, NaN) this writes:

  <name>_model.txt         LightGBM text model
  <name>_input.csv         rows to explain (header = feature names, "NaN" for missing)
  <name>_lgb_contrib.csv   booster.predict(X, pred_contrib=True): n_features + 1 columns, expected value last
  <name>_shap_contrib.csv  shap.TreeExplainer(booster).shap_values(X) with expected_value appended
  <name>_raw.csv           booster.predict(X, raw_score=True)

Floats are written with repr() so they round-trip exactly. Re-run: python3 scripts/fixtures_shap.py
The Rust test (crates/aml-explain/tests/lightgbm_fixtures.rs) compares without Python.
"""
import os
import sys

import lightgbm as lgb
import numpy as np
import shap

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "aml-explain", "tests", "fixtures")
N_FEATURES = 8
NAMES = [f"feat_{i}" for i in range(N_FEATURES)]


def make_data(rng, n):
    X = rng.normal(size=(n, N_FEATURES))
    # integer-valued feature so thresholds are hit exactly
    X[:, 3] = rng.integers(0, 5, size=n)
    # missing values in features 0, 1 and 5; exact zeros in 2 and 5; 4 and 6 stay complete
    for f, rate in [(0, 0.15), (1, 0.3), (5, 0.1)]:
        X[rng.random(n) < rate, f] = np.nan
    for f, rate in [(2, 0.2), (5, 0.2)]:
        X[rng.random(n) < rate, f] = 0.0
    logit = (
        1.5 * np.nan_to_num(X[:, 0], nan=1.0)
        - np.nan_to_num(X[:, 1], nan=-2.0)
        + 0.7 * X[:, 2] * X[:, 4]
        + 0.5 * X[:, 3]
        + np.where(np.isnan(X[:, 5]), 1.0, 0.3 * X[:, 5])
    )
    return X, logit


def write_csv(path, header, rows):
    with open(path, "w") as fh:
        if header is not None:
            fh.write(",".join(header) + "\n")
        for row in np.atleast_2d(rows):
            fh.write(",".join("NaN" if np.isnan(v) else repr(float(v)) for v in row) + "\n")


def dump(name, booster, X):
    booster.save_model(os.path.join(OUT, f"{name}_model.txt"))
    write_csv(os.path.join(OUT, f"{name}_input.csv"), NAMES, X)
    lgb_contrib = booster.predict(X, pred_contrib=True)
    write_csv(os.path.join(OUT, f"{name}_lgb_contrib.csv"), None, lgb_contrib)
    explainer = shap.TreeExplainer(booster)
    sv = np.asarray(explainer.shap_values(X))
    ev = np.full((X.shape[0], 1), float(np.ravel(explainer.expected_value)[0]))
    shap_contrib = np.hstack([sv, ev])
    write_csv(os.path.join(OUT, f"{name}_shap_contrib.csv"), None, shap_contrib)
    raw = booster.predict(X, raw_score=True).reshape(-1, 1)
    write_csv(os.path.join(OUT, f"{name}_raw.csv"), None, raw)
    diff = np.max(np.abs(lgb_contrib - shap_contrib))
    print(f"{name}: {booster.num_trees()} trees, max |lgb - shap| = {diff:.3e}", file=sys.stderr)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261122)
    X, logit = make_data(rng, 2000)
    X_explain, _ = make_data(rng, 60)

    y = (logit + rng.logistic(size=len(logit)) > 0).astype(int)
    params = dict(objective="binary", num_leaves=15, learning_rate=0.1, min_data_in_leaf=10,
                  num_threads=1, deterministic=True, seed=1, verbose=-1)
    binary = lgb.train(params, lgb.Dataset(X, y, feature_name=NAMES), num_boost_round=25)
    dump("binary", binary, X_explain)

    # lambdarank with zero_as_missing so MissingType::Zero appears as well
    rel = np.clip(np.digitize(logit + rng.normal(size=len(logit)), [-1.0, 0.5, 2.0]), 0, 3)
    group = [20] * (len(rel) // 20)
    params = dict(objective="lambdarank", num_leaves=15, learning_rate=0.1, min_data_in_leaf=10,
                  zero_as_missing=True, num_threads=1, deterministic=True, seed=1, verbose=-1)
    rank = lgb.train(params, lgb.Dataset(X, rel, group=group, feature_name=NAMES), num_boost_round=25)
    dump("lambdarank", rank, X_explain)


if __name__ == "__main__":
    main()
