#!/usr/bin/env python3
"""Generate metric conformance fixtures for aml_train::metric.

Needs: numpy, scikit-learn (>= 1.5: log loss clipped at float64 eps), lightgbm 4.x.
Writes crates/aml-train/tests/fixtures/metrics/metrics.json; the Rust test
crates/aml-train/tests/metric_fixtures.rs compares against it (|diff| <= 1e-12)
without needing Python.

Oracles:
- roc_auc, average_precision, brier, log_loss: scikit-learn.
- expected calibration error: scikit-learn's calibration_curve(strategy="uniform")
  for per-bin means, with the bin counts recomputed by the same searchsorted rule.
- NDCG@k: LightGBM's own `ndcg` metric, evaluated on the raw scores by passing
  them as init_score to a Booster that has not trained any tree yet.
  Cross-checked against scikit-learn's ndcg_score (gains 2^rel - 1) on lists
  without tied scores, where both conventions agree.
- precision@k: numpy (stable descending sort; no library defines it the same way).

Run from the repository root: python3 scripts/fixtures_metrics.py
"""

import json
import os
import sys

import lightgbm as lgb
import numpy as np
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    log_loss,
    ndcg_score,
    roc_auc_score,
)

OUT = os.path.join("crates", "aml-train", "tests", "fixtures", "metrics", "metrics.json")
SEED = 20261122
ECE_BINS = [1, 5, 10, 15]
PRECISION_KS = [1, 5, 10, 1000]
NDCG_KS = [1, 3, 5, 10, 1000]


def ece(labels, probs, n_bins):
    prob_true, prob_pred = calibration_curve(labels, probs, n_bins=n_bins, strategy="uniform")
    bins = np.linspace(0.0, 1.0, n_bins + 1)
    counts = np.bincount(np.searchsorted(bins[1:-1], probs), minlength=n_bins)
    counts = counts[counts != 0]
    return float(np.sum(counts / len(labels) * np.abs(prob_true - prob_pred)))


def precision_at_k(labels, scores, k):
    order = np.argsort(-scores, kind="stable")
    top = order[: min(k, len(labels))]
    return float(np.mean(labels[top] > 0))


def binary_case(name, labels, probs):
    labels = labels.astype(float)
    probs = probs.astype(float)
    assert 0 < labels.sum() < len(labels), name
    return {
        "name": name,
        "labels": labels.tolist(),
        "scores": probs.tolist(),
        "roc_auc": float(roc_auc_score(labels, probs)),
        "average_precision": float(average_precision_score(labels, probs)),
        "brier": float(brier_score_loss(labels, probs)),
        "log_loss": float(log_loss(labels, probs, labels=[0.0, 1.0])),
        "ece": {str(b): ece(labels, probs, b) for b in ECE_BINS},
        "precision_at_k": {str(k): precision_at_k(labels, probs, k) for k in PRECISION_KS},
    }


def lightgbm_mean_ndcg(relevance, scores, groups):
    x = np.zeros((len(relevance), 1))
    dataset = lgb.Dataset(x, label=relevance, group=groups, init_score=scores, params={"verbose": -1})
    booster = lgb.Booster(
        {"objective": "lambdarank", "metric": "ndcg", "eval_at": NDCG_KS, "verbose": -1}, dataset
    )
    return {r.metric_name.split("@")[1]: float(r.metric_value) for r in booster.eval_train()}


def reference_ndcg(relevance, scores, k):
    """Plain re-statement of LightGBM's convention, used only to sanity-check the oracle."""
    depth = min(k, len(relevance))
    discount = 1.0 / np.log2(np.arange(depth) + 2.0)
    ideal = np.sort(relevance)[::-1][:depth]
    ideal_dcg = np.sum((2.0 ** ideal - 1.0) * discount)
    if ideal_dcg <= 0:
        return 1.0
    order = np.argsort(-scores, kind="stable")[:depth]
    return float(np.sum((2.0 ** relevance[order] - 1.0) * discount) / ideal_dcg)


def ranking_case(name, relevance, scores, groups):
    relevance = relevance.astype(float)
    scores = scores.astype(float)
    mean = lightgbm_mean_ndcg(relevance, scores, groups)
    whole = lightgbm_mean_ndcg(relevance, scores, [len(relevance)])
    bounds = np.cumsum([0] + list(groups))
    for k in NDCG_KS:
        per_query = [
            reference_ndcg(relevance[a:b], scores[a:b], k) for a, b in zip(bounds[:-1], bounds[1:])
        ]
        assert abs(np.mean(per_query) - mean[str(k)]) < 1e-12, (name, k)
        assert abs(reference_ndcg(relevance, scores, k) - whole[str(k)]) < 1e-12, (name, k)
    case = {
        "name": name,
        "relevance": relevance.tolist(),
        "scores": scores.tolist(),
        "groups": [int(g) for g in groups],
        "mean_ndcg_lightgbm": mean,
        "whole_list_ndcg_lightgbm": whole,
    }
    if len(np.unique(scores)) == len(scores) and relevance.sum() > 0:
        gains = (2.0 ** relevance - 1.0)[None, :]
        case["whole_list_ndcg_sklearn"] = {
            str(k): float(ndcg_score(gains, scores[None, :], k=k)) for k in NDCG_KS
        }
    return case


def main():
    rng = np.random.default_rng(SEED)
    binary = []
    for n in [7, 60, 500]:
        labels = (rng.random(n) < 0.3).astype(int)
        labels[0], labels[1] = 0, 1
        noisy = np.clip(0.3 + 0.4 * labels + rng.normal(0, 0.25, n), 0, 1)
        binary.append(binary_case(f"continuous_n{n}", labels, noisy))
        binary.append(binary_case(f"ties_1dp_n{n}", labels, np.round(noisy, 1)))
    labels = (rng.random(200) < 0.1).astype(int)
    labels[:2] = [0, 1]
    binary.append(binary_case("heavy_ties_3_levels", labels, rng.choice([0.0, 0.5, 1.0], 200)))
    binary.append(binary_case("all_tied", labels, np.full(200, 0.25)))
    binary.append(binary_case("perfect", labels, labels * 0.9 + 0.05))
    binary.append(binary_case("inverted", labels, 1.0 - labels * 1.0))

    ranking = []
    for n_queries in [1, 5, 30]:
        groups = rng.integers(1, 40, n_queries)
        n = int(groups.sum())
        relevance = rng.integers(0, 5, n)
        continuous = rng.normal(size=n) + 0.3 * relevance
        ranking.append(ranking_case(f"continuous_q{n_queries}", relevance, continuous, groups))
        ranking.append(ranking_case(f"ties_q{n_queries}", relevance, np.round(continuous), groups))
    groups = np.array([5, 1, 8, 3])
    relevance = rng.integers(0, 3, int(groups.sum()))
    relevance[5:6] = 0  # the one-row query has relevance 0
    relevance[14:17] = 0  # the last query is all zero: scores 1
    ranking.append(ranking_case("with_all_zero_queries", relevance, rng.normal(size=len(relevance)), groups))

    fixture = {
        "generator": "scripts/fixtures_metrics.py",
        "seed": SEED,
        "versions": {"sklearn": sklearn.__version__, "lightgbm": lgb.__version__, "numpy": np.__version__},
        "binary_cases": binary,
        "ranking_cases": ranking,
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {len(binary)} binary cases, {len(ranking)} ranking cases", file=sys.stderr)


if __name__ == "__main__":
    main()
