#!/usr/bin/env python3
"""The write side of LightGBM compatibility (issue 12): LightGBM reads our model files.

Three checks, each bit for bit against LightGBM 4.x:
  1. every zoo model (crates/aml-models/tests/fixtures/zoo_*.model.txt) re-saved by our writer
     (`gbdt resave`) loads in LightGBM and gives the same raw scores (and the same pred_contrib,
     where LightGBM explains the model) as LightGBM's own file, on the zoo inputs;
  2. a model of every objective we train (`gbdt train`: binary, lambdarank, regression), on float64
     data with NaNs and zeros, loads in LightGBM and LightGBM's raw scores equal ours
     (`gbdt predict --raw`), and the training parameters in its `parameters:` block read back in
     LightGBM as the values we trained with;
  3. every model of the shipped bundle (trained_models/*.txt, written by the training pipeline)
     loads in LightGBM, its parameters read back as the bundle's metadata.json records them, and
     LightGBM's raw scores equal ours on float64 rows with NaNs and zeros.

    python3 scripts/lightgbm_reads_ours.py [--gbdt PATH]

Needs: pip install lightgbm numpy. Without --gbdt it builds the example (`cargo build --example gbdt`)
and uses target/debug/examples/gbdt. Exit status 0 when every check passes, 1 otherwise.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import lightgbm as lgb

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FIXTURES = os.path.join(ROOT, "crates", "aml-models", "tests", "fixtures")


def gbdt_binary(path):
    if path:
        return path
    subprocess.run(["cargo", "build", "-q", "--example", "gbdt"], cwd=ROOT, check=True)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    return os.path.join(target, "debug", "examples", "gbdt")


def read_inputs(path):
    with open(path) as fh:
        fh.readline()
        return np.array([[float(v) for v in line.rstrip("\n").split("\t")] for line in fh])


def same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and np.array_equal(a.view(np.uint64), b.view(np.uint64))


def check_zoo(gbdt, work):
    failures = []
    models = sorted(glob.glob(os.path.join(FIXTURES, "zoo_*.model.txt")))
    if not models:
        return ["no zoo fixtures found"]
    for model in models:
        case = os.path.basename(model)[: -len(".model.txt")]
        ours = os.path.join(work, f"{case}.ours.txt")
        subprocess.run([gbdt, "resave", "--model", model, "--out", ours], check=True)
        x = read_inputs(os.path.join(FIXTURES, f"{case}.inputs.tsv"))
        theirs_booster = lgb.Booster(model_file=model)
        ours_booster = lgb.Booster(model_file=ours)
        if not same(theirs_booster.predict(x, raw_score=True), ours_booster.predict(x, raw_score=True)):
            failures.append(f"{case}: raw scores differ after our resave")
            continue
        try:
            want = theirs_booster.predict(x, pred_contrib=True)
        except lgb.basic.LightGBMError:
            want = None
        if want is not None and not same(want, ours_booster.predict(x, pred_contrib=True)):
            failures.append(f"{case}: pred_contrib differs after our resave")
        print(f"zoo {case}: LightGBM reads our file, same raw scores" + ("" if want is None else " and pred_contrib"))
    return failures


def make_data(rng, n, f):
    x = rng.normal(size=(n, f))
    x[:, 1] = np.round(x[:, 1] * 4.0) / 4.0
    x[:, 2] = np.where(rng.random(n) < 0.3, 0.0, x[:, 2])
    x[:, 3] = np.where(rng.random(n) < 0.2, np.nan, x[:, 3])
    signal = x[:, 0] - 0.7 * np.nan_to_num(x[:, 3]) + 0.5 * x[:, 1] + 0.4 * (x[:, 2] == 0)
    return x, signal + rng.normal(scale=0.5, size=n)


def write_csv(path, x, y, qid=None):
    with open(path, "w") as fh:
        names = ["label"] + (["qid"] if qid is not None else []) + [f"f{i}" for i in range(x.shape[1])]
        fh.write(",".join(names) + "\n")
        for i, row in enumerate(x):
            cells = [repr(float(y[i]))] + ([str(qid[i])] if qid is not None else [])
            cells += ["nan" if np.isnan(v) else repr(float(v)) for v in row]
            fh.write(",".join(cells) + "\n")


def read_preds(path):
    with open(path) as fh:
        return np.array([float(line.split("\t")[0]) for line in fh])


def check_params(case, booster, want):
    """LightGBM's reading of our `parameters:` block equals the values we trained with."""
    got = booster.params
    bad = [f"{k}={got.get(k)!r} (want {v!r})" for k, v in want.items() if got.get(k) != v]
    return [f"{case}: LightGBM reads parameters {', '.join(bad)}"] if bad else []


def check_trained(gbdt, work):
    failures = []
    rng = np.random.default_rng(20261130)
    n, f = 2000, 8
    x, signal = make_data(rng, n, f)
    qid = np.repeat(np.arange(n // 50), 50)
    labels = {
        "binary": (signal > 0.5).astype(float),
        "regression": signal,
        "lambdarank": np.clip(np.round(signal + 1.0), 0, 3),
    }
    for objective, y in labels.items():
        data = os.path.join(work, f"{objective}.csv")
        ranking = objective == "lambdarank"
        write_csv(data, x, y, qid if ranking else None)
        model = os.path.join(work, f"{objective}.model.txt")
        args = [gbdt, "train", "--data", data, "--objective", objective, "--label", "label",
                "--num-trees", "40", "--num-leaves", "15", "--seed", "7", "--out", model]
        if ranking:
            args += ["--group", "qid"]
        subprocess.run(args, check=True, stderr=subprocess.DEVNULL)
        preds = os.path.join(work, f"{objective}.raw.tsv")
        args = [gbdt, "predict", "--model", model, "--data", data, "--label", "label", "--raw", "--out", preds]
        if ranking:
            args += ["--group", "qid"]
        subprocess.run(args, check=True)
        ours = read_preds(preds)
        booster = lgb.Booster(model_file=model)
        failures += check_params(f"trained {objective}", booster,
                                 {"objective": objective, "num_leaves": 15, "seed": 7, "num_iterations": 40})
        theirs = booster.predict(x, raw_score=True)
        if not same(ours, theirs):
            worst = np.max(np.abs(ours - theirs))
            failures.append(f"trained {objective}: LightGBM's raw scores differ from ours (max |diff| {worst})")
        else:
            print(f"trained {objective}: LightGBM reads our model, same raw scores on {n} rows")
    return failures


def check_shipped(gbdt, work):
    failures = []
    bundle = os.path.join(ROOT, "trained_models")
    with open(os.path.join(bundle, "metadata.json")) as fh:
        models = json.load(fh)["models"]
    rng = np.random.default_rng(7)
    for name, entry in sorted(models.items()):
        model = os.path.join(bundle, entry["file"])
        try:
            booster = lgb.Booster(model_file=model)
        except Exception as e:  # LightGBM's Python side raises several types here
            failures.append(f"shipped {name}: LightGBM cannot load it ({type(e).__name__}: {e})")
            continue
        params = entry.get("params", {})
        want = {k: params[k] for k in ("objective", "num_leaves", "learning_rate", "seed") if k in params}
        if params.get("metric") is not None and isinstance(params["metric"], dict) and "ndcg" in params["metric"]:
            want["metric"], want["eval_at"] = ["ndcg"], [params["metric"]["ndcg"]]
        failures += check_params(f"shipped {name}", booster, want)
        names = booster.feature_name()
        x = rng.normal(size=(500, len(names))) * rng.choice([0.01, 1.0, 1e4], size=len(names))
        x[rng.random(x.shape) < 0.1] = 0.0
        x[rng.random(x.shape) < 0.1] = np.nan
        data = os.path.join(work, f"shipped_{name}.csv")
        with open(data, "w") as fh:
            fh.write(",".join(["label"] + names) + "\n")
            for row in x:
                fh.write(",".join(["0"] + ["nan" if np.isnan(v) else repr(float(v)) for v in row]) + "\n")
        preds = os.path.join(work, f"shipped_{name}.raw.tsv")
        subprocess.run([gbdt, "predict", "--model", model, "--data", data, "--label", "label", "--raw",
                        "--out", preds], check=True)
        if not same(read_preds(preds), booster.predict(x, raw_score=True)):
            failures.append(f"shipped {name}: LightGBM's raw scores differ from ours")
        else:
            print(f"shipped {name}: LightGBM reads the bundle's model and its parameters, same raw scores")
    return failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gbdt", help="path of a built `gbdt` example binary")
    a = ap.parse_args()
    gbdt = gbdt_binary(a.gbdt)
    with tempfile.TemporaryDirectory() as work:
        failures = check_zoo(gbdt, work) + check_trained(gbdt, work) + check_shipped(gbdt, work)
    for f in failures:
        print("FAIL", f, file=sys.stderr)
    print(f"lightgbm {lgb.__version__}: {'all checks pass' if not failures else f'{len(failures)} failures'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
