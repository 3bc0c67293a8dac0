#!/usr/bin/env python3
"""Conformance fixtures for crates/aml-models (LightGBM is the oracle).

Needs: pip install lightgbm numpy   (tested with lightgbm 4.7)

Step 1 (default): train small LightGBM models on data generated here from a fixed
numpy seed and write, per case, into crates/aml-models/tests/fixtures/:
  <case>.model.txt   LightGBM text model
  <case>.inputs.tsv  header of feature names, then one row per input (repr floats, `nan`)
  <case>.preds.tsv   raw_f64, pred_f64, raw_f32: LightGBM raw score and transformed
                     prediction on the f64 inputs, and raw score on the inputs cast to float32

Step 2 (`--rust-written`): for every rust_*.model.txt that the Rust test
`rust_written_models` wrote (run `UPDATE_FIXTURES=1 cargo test -p aml-models --test
conformance`), load it with LightGBM and write rust_*.preds.tsv, proving that
LightGBM reads our files and predicts what we predict.

Cases cover missing types None / Zero / NaN (use_missing, zero_as_missing), NaNs,
exact zeros, tiny values around LightGBM's zero threshold, inputs equal to split
thresholds, single-leaf trees, and the binary / lambdarank / regression objectives.
The f64_* cases (max_bin 15, values on a decimal grid) have thresholds that float32
cannot represent, probed at every threshold with the float64 and float32 neighbours.
"""
import argparse
import os
import sys

import numpy as np
import lightgbm as lgb

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "aml-models", "tests", "fixtures")
ZERO = float(np.float32(1e-35))


def make_data(rng, n, f):
    x = rng.normal(size=(n, f))
    x[:, 1] = np.round(x[:, 1] * 2.0) / 2.0  # repeated values -> thresholds between bins
    x[:, 2] = np.where(rng.random(n) < 0.35, 0.0, x[:, 2])  # many exact zeros
    x[:, 3] = np.where(rng.random(n) < 0.2, np.nan, x[:, 3])  # NaNs
    x[:, 4] = np.where(rng.random(n) < 0.3, 0.0, np.where(rng.random(n) < 0.2, np.nan, x[:, 4]))
    x[:, 5] = rng.integers(0, 4, size=n).astype(float)  # small integers incl. 0
    return x


def thresholds(booster):
    out = []
    for t in booster.dump_model()["tree_info"]:
        stack = [t["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_feature" in node:
                if node.get("decision_type", "<=") == "<=":  # numerical splits only
                    out.append((node["split_feature"], float(node["threshold"])))
                stack.append(node["left_child"])
                stack.append(node["right_child"])
    return out


EDGES = [0.0, -0.0, ZERO, -ZERO, ZERO / 2, -ZERO / 2, 2 * ZERO, -2 * ZERO, 1e-40, np.nan]


def probe_rows(rng, booster, base, max_thresholds=60, edges=EDGES):
    """Random rows plus rows that sit exactly on / next to split thresholds and at the zero edge
    (as a list, so callers can add their own probes)."""
    rows = [r.copy() for r in base]
    for feat, thr in thresholds(booster)[:max_thresholds]:
        for v in (thr, np.nextafter(thr, np.inf), np.nextafter(thr, -np.inf), float(np.float32(thr))):
            r = base[rng.integers(len(base))].copy()
            r[feat] = v
            rows.append(r)
    for i, v in enumerate(edges):
        r = base[i % len(base)].copy()
        r[:] = v
        rows.append(r)
        r2 = base[(i + 7) % len(base)].copy()
        r2[2] = v
        r2[4] = v
        rows.append(r2)
    return rows


def probe_inputs(rng, booster, base, f):
    """Random rows plus rows that sit exactly on / next to split thresholds and at the zero edge."""
    return np.array(probe_rows(rng, booster, base))


def f32_neighbours(t):
    """The float32 values just below and just above t, as float64 (one of them may equal t)."""
    c = np.float32(t)
    if float(c) > t:
        return float(np.nextafter(c, np.float32(-np.inf))), float(c)
    if float(c) < t:
        return float(c), float(np.nextafter(c, np.float32(np.inf)))
    return float(np.nextafter(c, np.float32(-np.inf))), float(np.nextafter(c, np.float32(np.inf)))


def f64_probe_inputs(rng, booster, base):
    """For every distinct split threshold t: nextafter(t, -inf), t, nextafter(t, +inf) and the
    float32 neighbours of t in that feature; then rows of NaN and of 0.0 in every feature."""
    rows = [r.copy() for r in base]
    for feat, thr in sorted(set(thresholds(booster))):
        lo, hi = f32_neighbours(thr)
        for v in (np.nextafter(thr, -np.inf), thr, np.nextafter(thr, np.inf), lo, hi):
            r = base[rng.integers(len(base))].copy()
            r[feat] = v
            rows.append(r)
    for v in (np.nan, 0.0):
        for i in range(3):
            r = base[i].copy()
            r[:] = v
            rows.append(r)
            r2 = base[i + 3].copy()
            r2[i] = v
            rows.append(r2)
    return np.array(rows)


def f64_cases():
    """Few bins and values on a 0.001 grid: most thresholds sit between a value and its float64
    neighbour (e.g. 1.649 vs 1.6490000000000002), where float32 comparisons go the wrong way."""
    rng = np.random.default_rng(20261130)
    f = 4
    n = 1500
    x = np.round(rng.normal(size=(n, f)) * 1.5, 3)
    x[:, 1] = np.where(rng.random(n) < 0.15, np.nan, x[:, 1])
    x[:, 2] = np.where(rng.random(n) < 0.25, 0.0, x[:, 2])
    y = np.sin(2.0 * x[:, 0]) + 0.7 * np.nan_to_num(x[:, 1]) - 0.5 * x[:, 2] * x[:, 3]
    y_bin = (y + rng.normal(scale=0.3, size=n) > 0).astype(float)
    base = np.round(rng.normal(size=(40, f)) * 1.5, 3)
    names = [f"f{i}" for i in range(f)]
    common = {"verbose": -1, "num_threads": 1, "deterministic": True, "seed": 7, "max_bin": 15,
              "min_data_in_leaf": 10, "num_leaves": 7, "learning_rate": 0.3}
    cases = {
        "f64_binary_max_bin15": ({"objective": "binary"}, y_bin),
        "f64_regression_l2_max_bin15": ({"objective": "regression"}, y),
    }
    for name, (params, target) in cases.items():
        ds = lgb.Dataset(x, target, feature_name=names, free_raw_data=False)
        booster = lgb.train({**common, **params}, ds, num_boost_round=8)
        write_case(name, booster, f64_probe_inputs(rng, booster, base))
        print("wrote", name, booster.num_trees(), "trees", file=sys.stderr)


def fmt(v):
    v = float(v)
    return "nan" if np.isnan(v) else repr(v)


def write_case(name, booster, x):
    booster.save_model(os.path.join(OUT, f"{name}.model.txt"))
    write_inputs(name, booster.feature_name(), x)
    write_preds(name, booster, x)


def write_inputs(name, feature_names, x):
    with open(os.path.join(OUT, f"{name}.inputs.tsv"), "w") as fh:
        fh.write("\t".join(feature_names) + "\n")
        for r in x:
            fh.write("\t".join(fmt(v) for v in r) + "\n")


def write_preds(name, booster, x):
    raw = booster.predict(x, raw_score=True)
    pred = booster.predict(x)
    raw32 = booster.predict(x.astype(np.float32), raw_score=True)
    with open(os.path.join(OUT, f"{name}.preds.tsv"), "w") as fh:
        fh.write("raw_f64\tpred_f64\traw_f32\n")
        for a, b, c in zip(raw, pred, raw32):
            fh.write(f"{fmt(a)}\t{fmt(b)}\t{fmt(c)}\n")


def train_cases():
    rng = np.random.default_rng(20240601)
    f = 8
    n = 2000
    x = make_data(rng, n, f)
    logit = 1.2 * x[:, 0] - 0.8 * np.nan_to_num(x[:, 3]) + 0.6 * x[:, 1] + 0.5 * (x[:, 2] == 0) + 0.3 * x[:, 5]
    y_bin = (logit + rng.normal(scale=0.7, size=n) > 0).astype(float)
    y_reg = logit + rng.normal(scale=0.3, size=n)
    base_test = make_data(rng, 150, f)
    names = [f"f{i}" for i in range(f)]
    common = {"verbose": -1, "num_threads": 1, "deterministic": True, "seed": 7, "min_data_in_leaf": 10}

    def fit(params, y, rounds, group=None):
        ds = lgb.Dataset(x, y, group=group, feature_name=names, free_raw_data=False)
        return lgb.train({**common, **params}, ds, num_boost_round=rounds)

    cases = {
        "binary_nan": fit({"objective": "binary", "num_leaves": 15, "learning_rate": 0.1}, y_bin, 30),
        "binary_zero_as_missing": fit(
            {"objective": "binary", "num_leaves": 7, "zero_as_missing": True, "learning_rate": 0.2}, y_bin, 25
        ),
        "binary_no_missing": fit(
            {"objective": "binary", "num_leaves": 10, "use_missing": False, "sigmoid": 0.7}, y_bin, 20
        ),
        "regression": fit({"objective": "regression", "num_leaves": 31, "learning_rate": 0.05}, y_reg, 50),
        # No split can satisfy min_data_in_leaf: LightGBM stops after one single-leaf tree.
        "binary_single_leaf": fit({"objective": "binary", "min_data_in_leaf": 1500}, y_bin, 5),
    }
    sizes = []
    left = n
    while left > 0:
        s = min(left, int(rng.integers(20, 120)))
        sizes.append(s)
        left -= s
    rel = np.clip(np.round(logit + rng.normal(scale=0.8, size=n) + 1.0), 0, 4)
    cases["lambdarank"] = fit(
        {"objective": "lambdarank", "num_leaves": 15, "learning_rate": 0.1, "min_data_in_leaf": 5}, rel, 30, sizes
    )
    for name, booster in cases.items():
        write_case(name, booster, probe_inputs(rng, booster, base_test, f))
        print("wrote", name, booster.num_trees(), "trees", file=sys.stderr)
    f64_cases()


def predict_rust_written():
    found = False
    for fname in sorted(os.listdir(OUT)):
        if fname.startswith("rust_") and fname.endswith(".model.txt"):
            found = True
            name = fname[: -len(".model.txt")]
            booster = lgb.Booster(model_file=os.path.join(OUT, fname))
            with open(os.path.join(OUT, f"{name}.inputs.tsv")) as fh:
                fh.readline()
                x = np.array([[float(v) for v in line.rstrip("\n").split("\t")] for line in fh])
            write_preds(name, booster, x)
            print("predicted", name, file=sys.stderr)
    if not found:
        sys.exit("no rust_*.model.txt fixtures: run UPDATE_FIXTURES=1 cargo test -p aml-models --test conformance")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rust-written", action="store_true", help="step 2: predict the Rust-written models")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    if args.rust_written:
        predict_rust_written()
    else:
        train_cases()
