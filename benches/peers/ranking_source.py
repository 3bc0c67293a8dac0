#!/usr/bin/env python3
"""Held-out ranking quality of a submission (issue 15 item 2): the scorer's order against the
rankings' order, on labelled days the bundle never saw.

For each BATCH_DIR:SUBMISSION_DIR pair (a labelled day and `aml-miner score`'s output for it), the
day's labelled alerts are ordered by `scores.parquet` `score` and by `rankings.parquet`
`ranking_score`; the script prints NDCG@100, NDCG@500 (gain 2^grade - 1, discount
1 / log2(2 + position), ties in alert_id order, as `aml_train::metric::ndcg_at_k`) and P@100 (share
of high/critical among the first 100), each averaged over days, and NDCG@500 per day. To see the
ranker's order when the bundle ranks by the scorer, score with a copy of the bundle whose
`metadata.json` says `"model": "alert_ranker"` under `ranking.source`.

Usage: python3 benches/peers/ranking_source.py LABEL BATCH_DIR:SUBMISSION_DIR ...
Needs: numpy, pandas, pyarrow (not needed by `cargo test`)."""
import os
import sys
import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline_seeds import labels_for  # noqa: E402  (one contract-label rule for every peer)


def ndcg(rel, s, k):
    order = np.argsort(-s, kind="stable")
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    gains = 2.0 ** rel - 1.0
    dcg = (gains[order][:k] * disc[: min(k, len(rel))]).sum()
    ideal = (np.sort(gains)[::-1][:k] * disc[: min(k, len(rel))]).sum()
    return dcg / ideal if ideal > 0 else 1.0


def p_at(rel, s, k):
    order = np.argsort(-s, kind="stable")
    return (rel[order[:k]] >= 2).mean()


label = sys.argv[1]
rows = {"scorer": [], "ranking": []}
for pair in sys.argv[2:]:
    batch, sub = pair.split(":")
    sc = pd.read_parquet(f"{sub}/scores.parquet").sort_values("alert_id")
    rk = pd.read_parquet(f"{sub}/rankings.parquet").set_index("alert_id")["ranking_score"]
    ids = sc["alert_id"].to_numpy()
    rel = labels_for(batch, ids)
    keep = ~np.isnan(rel)
    rel = rel[keep]
    for name, s in [("scorer", sc["score"].to_numpy()[keep]), ("ranking", rk.reindex(ids).to_numpy()[keep])]:
        rows[name].append((ndcg(rel, s, 100), ndcg(rel, s, 500), p_at(rel, s, 100)))
for name, r in rows.items():
    r = np.array(r)
    per_day = " ".join(f"{x:.4f}" for x in r[:, 1])
    m = r.mean(axis=0)
    print(f"| {label} | {name} | {m[0]:.4f} | {m[1]:.4f} | {m[2]:.3f} | {per_day} |")
