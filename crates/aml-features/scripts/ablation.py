"""Ablation of the optional feature groups (aml_features::FeatureGroups) on synthetic days.

For each generator seed: generate 11 labelled days (2025-10-01 .. 10-11, the sizes of
trained_models/README.md), featurise all 11 days with one spec (`aml-miner features --spec
--clusters-out`): the shipped bundle's spec (trained_models/metadata.json, fitted on the same
synthetic world) with every optional group switched on. Then train LightGBM (the
parameters of benches/peers/pipeline_seeds.py) on the history days with and without each group's
columns and evaluate on the held-out days 10-08 .. 10-11 (mean over the 4 days):
alert AUC and NDCG@500 on graded relevance; for the cluster group, cluster AUC with the
aml-train cluster label (1 if any member alert is labelled 1).

    python crates/aml-features/scripts/ablation.py --bin target/release/aml-miner \
        --spec trained_models/metadata.json --work /tmp/ablation --seeds 42 7
"""
import argparse
import json
import os
import subprocess
import sys

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import ndcg_score, roc_auc_score

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "benches", "peers"))
from pipeline_seeds import labels_for as relevance  # noqa: E402  (one contract-label rule)
PARAMS = dict(objective="binary", learning_rate=0.05, num_leaves=31, min_data_in_leaf=40,
              feature_fraction=0.8, bagging_fraction=0.8, bagging_freq=1, lambda_l2=1.0,
              seed=42, deterministic=True, verbose=-1, num_threads=2)
GROUPS = {
    "graph_components": ["comp_size", "comp_alerted_nodes", "comp_alerted_share", "comp_is_largest"],
    "graph_communities": ["comm_size", "comm_alerted_share", "comm_high_severity_share",
                          "comm_internal_share", "comm_counterparty_communities"],
    "urgency_score": ["urgency_score"],
}
DATES = [f"2025-10-{d:02d}" for d in range(1, 12)]
HISTORY, HELD_OUT = DATES[:7], DATES[7:]


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def cluster_labels(day_dir, cluster_ids, alert_label):
    clusters = pd.read_parquet(f"{day_dir}/clusters.parquet", columns=["cluster_id", "related_alert_ids"])
    clusters = clusters.set_index("cluster_id").reindex(cluster_ids)
    out = []
    for related in clusters["related_alert_ids"]:
        labels = [alert_label.get(a) for a in (related if related is not None else [])]
        labels = [l for l in labels if l is not None and not np.isnan(l)]
        out.append(np.nan if not labels else float(max(labels)))
    return np.array(out)


def day_dir(work, seed, date):
    return f"{work}/seed{seed}/days/{date}"


def prepare(bin_path, metadata, work, seed):
    root = f"{work}/seed{seed}"
    if not os.path.exists(f"{root}/days"):
        run([bin_path, "generate", "--out", f"{root}/days", "--date", DATES[0], "--days", "11",
             "--alerts", "5000", "--addresses", "50000", "--flows", "250000", "--seed", str(seed),
             "--labels"])
    days = sorted(os.listdir(f"{root}/days"))
    assert days == DATES, days
    spec = json.load(open(metadata))["feature_spec"]
    spec["groups"] = {name: True for name in
                      ["graph_components", "graph_communities", "urgency_score", "cluster_confidence_variance"]}
    with open(f"{root}/spec.json", "w") as f:
        json.dump(spec, f)
    for d in DATES:
        if not os.path.exists(f"{root}/m_{d}.parquet"):
            run([bin_path, "features", "--batch", day_dir(work, seed, d), "--spec", f"{root}/spec.json",
                 "--out", f"{root}/m_{d}.parquet", "--clusters-out", f"{root}/c_{d}.parquet"])


def load_day(work, seed, date):
    root = f"{work}/seed{seed}"
    m = pd.read_parquet(f"{root}/m_{date}.parquet")
    rel = relevance(day_dir(work, seed, date), m["alert_id"].to_numpy())
    label = dict(zip(m["alert_id"], np.where(np.isnan(rel), np.nan, (rel >= 2).astype(float))))
    c = pd.read_parquet(f"{root}/c_{date}.parquet")
    cy = cluster_labels(day_dir(work, seed, date), c["cluster_id"].to_numpy(), label)
    keep, ckeep = ~np.isnan(rel), ~np.isnan(cy)
    return (m.drop(columns=["alert_id"])[keep], rel[keep],
            c.drop(columns=["cluster_id"])[ckeep], cy[ckeep])


def evaluate(train, test, drop):
    x = pd.concat([t[0] for t in train]).drop(columns=drop)
    y = (np.concatenate([t[1] for t in train]) >= 2).astype(float)
    model = lgb.train(PARAMS, lgb.Dataset(x, y), num_boost_round=300)
    aucs, ndcgs = [], []
    for xt, relt, _, _ in test:
        p = model.predict(xt.drop(columns=drop))
        aucs.append(roc_auc_score((relt >= 2).astype(float), p))
        ndcgs.append(ndcg_score([relt], [p], k=500))
    return float(np.mean(aucs)), float(np.mean(ndcgs))


def evaluate_clusters(train, test, drop):
    x = pd.concat([t[2] for t in train]).drop(columns=drop)
    y = np.concatenate([t[3] for t in train])
    model = lgb.train(PARAMS, lgb.Dataset(x, y), num_boost_round=300)
    return float(np.mean([roc_auc_score(ct, model.predict(xt.drop(columns=drop)))
                          for _, _, xt, ct in test]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--spec", required=True, help="metadata.json whose feature_spec to use")
    ap.add_argument("--work", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 7])
    args = ap.parse_args()
    print("| seed | variant | AUC | NDCG@500 | dAUC | dNDCG@500 |")
    print("|---|---|---|---|---|---|", flush=True)

    def row(seed, name, result, ref=None):
        auc, ndcg = result
        nd = "" if ndcg is None else f"{ndcg:.4f}"
        d_auc = "" if ref is None else f"{auc - ref[0]:+.4f}"
        d_ndcg = "" if ref is None or ndcg is None else f"{ndcg - ref[1]:+.4f}"
        print(f"| {seed} | {name} | {auc:.4f} | {nd} | {d_auc} | {d_ndcg} |", flush=True)

    for seed in args.seeds:
        prepare(args.bin, args.spec, args.work, seed)
        train = [load_day(args.work, seed, d) for d in HISTORY]
        test = [load_day(args.work, seed, d) for d in HELD_OUT]
        all_new = sum(GROUPS.values(), [])
        base = evaluate(train, test, all_new)
        row(seed, "without the new alert groups", base)
        for group, cols in GROUPS.items():
            row(seed, f"+ {group} only", evaluate(train, test, [c for c in all_new if c not in cols]), base)
        row(seed, "+ all new alert groups", evaluate(train, test, []), base)
        cbase = evaluate_clusters(train, test, ["confidence_variance"])
        row(seed, "clusters without confidence_variance", (cbase, None))
        row(seed, "clusters + confidence_variance", (evaluate_clusters(train, test, []), None), (cbase, None))

if __name__ == "__main__":
    main()
