"""Peer for the miner end to end: the seeds' pandas + LightGBM + shap pipeline.

Two modes.

quality: score held-out days with our scorer (read from its scores.parquet) and with three
    LightGBM peers trained on the same days, and print one metrics table per test day (and their
    mean when there are several). Rows:
    - aml-miner alert_scorer (and alert_ranker when rankings.parquet sits next to scores.parquet);
    - "template pipeline": the seeds' own pipeline, LightGBM with PARAMS (300 trees) on the seeds'
      feature set (`seeds_features`: alert fields + raw address features + cluster counts) built
      from the batch directories themselves: the bar issue 15 item 5 measures against;
    - "LightGBM on our features": the same LightGBM on OUR feature matrices (written by
      `aml-miner features --batch DAY --spec SPEC.json --out M.parquet`, SPEC = the bundle's
      `feature_spec`), which separates the features' share of the gap from the learner's;
    - a severity+confidence-only LightGBM baseline.
    Labels follow the contract rule (high/critical -> 1, low/medium -> 0, unlabelled alerts left
    out). Every peer is trained once on all --train days and scores every --test day.

    python benches/peers/pipeline_seeds.py quality --train M1.parquet:B1 ... \
        --test M8.parquet:B8 --scores SUB8/scores.parquet [--test M9.parquet:B9 --scores ...]

    benches/peers/quality_over_seeds.py runs this over several generator seeds.

speed: time the seeds-style daily run on one batch directory: pandas load + merge features,
    LightGBM predict, shap TreeExplainer on every alert, top-5 JSON, rank, write parquet.
    The model is trained on the batch's own features first (untimed).

    python benches/peers/pipeline_seeds.py speed BATCH_DIR [--trees N]

    N (default: the number of trees of trained_models/alert_scorer.txt, the shipped scorer) makes
    the peer's model the size of ours, so the explain step does the same amount of work.
"""
import argparse
import json
import os
import sys
import time

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score, ndcg_score

RISK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
PARAMS = dict(objective="binary", learning_rate=0.05, num_leaves=31, min_data_in_leaf=40,
              feature_fraction=0.8, bagging_fraction=0.8, bagging_freq=1, lambda_l2=1.0,
              seed=42, deterministic=True, verbose=-1, num_threads=2)


def labels_for(batch_dir, alert_ids):
    alerts = pd.read_parquet(f"{batch_dir}/alerts.parquet", columns=["alert_id", "address"])
    lab = pd.read_parquet(f"{batch_dir}/address_labels.parquet", columns=["address", "risk_level"])
    lab["rel"] = lab["risk_level"].str.strip().str.lower().map(RISK)
    lab = lab.dropna(subset=["rel"]).groupby("address")["rel"].max()
    rel = alerts.set_index("alert_id")["address"].map(lab)
    return rel.reindex(alert_ids).to_numpy()


def load(pair):
    matrix, batch = pair.split(":")
    m = pd.read_parquet(matrix)
    ids = m["alert_id"].to_numpy()
    x = m.drop(columns=["alert_id"])
    rel = labels_for(batch, ids)
    keep = ~np.isnan(rel)
    return x[keep], rel[keep], ids[keep]


def metrics(name, y, rel, p, prob=True):
    order = np.argsort(-p, kind="stable")
    row = {"model": name, "n": len(y), "AUC": roc_auc_score(y, p), "AUC-PR": average_precision_score(y, p),
           "Brier": brier_score_loss(y, p) if prob else np.nan,
           "log loss": log_loss(y, np.clip(p, 1e-15, 1 - 1e-15)) if prob else np.nan,
           "NDCG@500": ndcg_score([rel], [p], k=500), "P@100": y[order[:100]].mean()}
    return row


def markdown(rows):
    """A Markdown table of dict rows (no tabulate dependency)."""
    cols = list(rows[0])
    cell = lambda v: f"{v:.4f}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def flag_values(args, flag):
    """Every value given after `flag` in `args`, in order."""
    return [a for i, a in enumerate(args) if i > 0 and args[i - 1] == flag]


def template_matrix(batch_dir, columns=None):
    """The seeds' feature matrix of one labelled day (labelled alerts only) and its labels;
    `columns` aligns a test day with the training columns."""
    ids, x = seeds_features(batch_dir)
    rel = labels_for(batch_dir, ids.to_numpy())
    keep = ~np.isnan(rel)
    x = x[keep]
    if columns is not None:
        x = x.reindex(columns=columns)
    return x, rel[keep], ids.to_numpy()[keep]


def quality_tables(trains, tests):
    """Trains the peers once on `trains` ("matrix.parquet:batch_dir" pairs) and returns one list
    of metric rows per test day and the two 300-tree peers' training seconds; `tests` holds
    ("matrix.parquet:batch_dir", scores.parquet) pairs."""
    parts = [load(p) for p in trains]
    x = pd.concat([p[0] for p in parts]); rel = np.concatenate([p[1] for p in parts])
    y = (rel >= 2).astype(float)
    tparts = [template_matrix(p.split(":")[1]) for p in trains]
    tx = pd.concat([p[0] for p in tparts]); ty = (np.concatenate([p[1] for p in tparts]) >= 2).astype(float)
    t0 = time.perf_counter()
    template = lgb.train(PARAMS, lgb.Dataset(tx, ty), num_boost_round=300)
    template_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    peer = lgb.train(PARAMS, lgb.Dataset(x, y), num_boost_round=300)
    peer_s = time.perf_counter() - t0
    cols = ["severity_ordinal", "alert_confidence_score"]
    base = lgb.train(PARAMS, lgb.Dataset(x[cols], y), num_boost_round=100)
    tables = []
    for test, scores in tests:
        xt, relt, idt = load(test)
        yt = (relt >= 2).astype(float)
        rows = []
        ours = pd.read_parquet(scores).set_index("alert_id")["score"].reindex(idt).to_numpy()
        rows.append(metrics("aml-miner alert_scorer", yt, relt, ours))
        rankings = scores.replace("scores.parquet", "rankings.parquet")
        if rankings != scores and os.path.exists(rankings):
            ranked = pd.read_parquet(rankings).set_index("alert_id")["ranking_score"].reindex(idt).to_numpy()
            rows.append(metrics("aml-miner alert_ranker", yt, relt, ranked, prob=False))
        txt, _, tid = template_matrix(test.split(":")[1], tx.columns)
        tp = pd.Series(template.predict(txt), index=tid).reindex(idt).to_numpy()
        rows.append(metrics("template pipeline: LightGBM on seeds features", yt, relt, tp))
        rows.append(metrics("LightGBM on our features", yt, relt, peer.predict(xt)))
        rows.append(metrics("severity+confidence LightGBM", yt, relt, base.predict(xt[cols])))
        tables.append(rows)
    return tables, {"template pipeline": template_s, "LightGBM on our features": peer_s}


def mean_rows(tables):
    """Row-wise mean of tables with the same models in the same order (n summed)."""
    out = []
    for group in zip(*tables):
        row = {"model": group[0]["model"], "n": sum(r["n"] for r in group)}
        for k in group[0]:
            if k not in row:
                row[k] = float(np.mean([r[k] for r in group]))
        out.append(row)
    return out


def quality(args):
    trains = flag_values(args, "--train")
    tests = list(zip(flag_values(args, "--test"), flag_values(args, "--scores"), strict=True))
    tables, seconds = quality_tables(trains, tests)
    print("peer training (300 trees): " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()) + "\n")
    for (test, _), rows in zip(tests, tables):
        print(f"test day {test.split(':')[1]}\n\n{markdown(rows)}\n")
    if len(tables) > 1:
        print(f"mean over {len(tables)} test days\n\n{markdown(mean_rows(tables))}")


def seeds_features(batch_dir):
    alerts = pd.read_parquet(f"{batch_dir}/alerts.parquet")
    features = pd.read_parquet(f"{batch_dir}/features.parquet")
    clusters = pd.read_parquet(f"{batch_dir}/clusters.parquet")
    pd.read_parquet(f"{batch_dir}/money_flows.parquet", columns=["from_address", "to_address", "amount_usd_sum"])
    a = alerts[["alert_id", "address", "severity", "alert_confidence_score", "volume_usd"]].copy()
    a["severity_ordinal"] = a["severity"].str.lower().map(RISK).fillna(1)
    a["log_volume_usd"] = np.log1p(pd.to_numeric(a["volume_usd"], errors="coerce").astype("float64"))
    numeric = features.select_dtypes(include=["number", "bool"]).astype("float64")
    numeric.insert(0, "address", features["address"])
    merged = a.merge(numeric, on="address", how="left")
    ex = clusters[["cluster_id", "related_alert_ids", "total_alerts"]].explode("related_alert_ids")
    stats = ex.groupby("related_alert_ids").agg(cl_count=("cluster_id", "nunique"), cl_max=("total_alerts", "max"))
    merged = merged.merge(stats, left_on="alert_id", right_index=True, how="left")
    x = merged.drop(columns=["alert_id", "address", "severity", "volume_usd"])
    return merged["alert_id"], x


def shipped_scorer_trees():
    path = os.path.join(os.path.dirname(__file__), "..", "..", "trained_models", "alert_scorer.txt")
    with open(path) as f:
        return sum(1 for line in f if line.startswith("Tree="))


def speed(args):
    parser = argparse.ArgumentParser(prog="pipeline_seeds.py speed")
    parser.add_argument("batch_dir")
    parser.add_argument("--trees", type=int, default=None)
    opts = parser.parse_args(args)
    batch_dir = opts.batch_dir
    trees = opts.trees if opts.trees is not None else shipped_scorer_trees()
    ids, x = seeds_features(batch_dir)
    y = (x["severity_ordinal"] + np.random.default_rng(0).normal(size=len(x)) > 2).astype(int)
    # min_data_in_leaf 1 and no early stop: every round adds a tree, so the model has `trees` trees.
    model = lgb.train(dict(PARAMS, min_data_in_leaf=1), lgb.Dataset(x, y), num_boost_round=trees)
    print(f"peer model: {model.num_trees()} trees")
    import shap
    timings = {}
    t = time.perf_counter()
    ids, x = seeds_features(batch_dir)
    timings["load + features"] = time.perf_counter() - t
    t = time.perf_counter()
    p = model.predict(x)
    timings["predict"] = time.perf_counter() - t
    t = time.perf_counter()
    sv = shap.TreeExplainer(model).shap_values(x)
    sv = sv[1] if isinstance(sv, list) else sv
    top = np.argsort(-np.abs(sv), axis=1)[:, :5]
    cols = x.columns.to_numpy()
    explain = [json.dumps({"score": float(p[i]), "top_features": [
        {"feature": cols[j], "value": float(x.iat[i, j]), "impact": float(sv[i, j])} for j in top[i]]})
        for i in range(len(x))]
    timings["shap + top-5 json"] = time.perf_counter() - t
    t = time.perf_counter()
    out = pd.DataFrame({"alert_id": ids, "score": p, "explain_json": explain})
    out["rank"] = out["score"].rank(ascending=False, method="min").astype("int32")
    out.to_parquet("/tmp/pipeline_seeds_scores.parquet")
    timings["rank + write"] = time.perf_counter() - t
    for k, v in timings.items():
        print(f"{k:>20}: {v:8.3f} s")
    print(f"{'total':>20}: {sum(timings.values()):8.3f} s  ({len(x)} alerts)")


if __name__ == "__main__":
    if sys.argv[1] == "quality":
        quality(sys.argv[1:])
    else:
        speed(sys.argv[2:])
