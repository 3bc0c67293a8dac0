#!/usr/bin/env python3
"""Generate the NDCG fixture for the validator's tier 3.

The subnet's validator computes NDCG@500 with scikit-learn:
ndcg_score([y], [score], k=500), binary relevance, where tied scores share the
mean gain of their group. This script writes lists with many ties (scores
rounded to a few values, -0.0 next to 0.0, all scores equal), binary and
graded relevance, a list without any relevant row, and several cut-offs, with
scikit-learn's value for each. The Rust test
`tier3_ndcg_matches_scikit_learn_with_ties` (tests/validation.rs) compares
aml_miner::validation::tier3::sklearn_ndcg_at_k against it (|diff| <= 1e-12).

Needs numpy and scikit-learn. Run from the repository root:
python3 scripts/fixtures_sklearn_ndcg.py
"""

import json
import os

import numpy as np
import sklearn
from sklearn.metrics import ndcg_score

OUT = os.path.join("tests", "fixtures", "sklearn_ndcg.json")
SEED = 20251030
KS = [1, 3, 10, 100, 500]


def case(name, relevance, scores):
    relevance = [float(r) for r in relevance]
    scores = [float(s) for s in scores]
    return {
        "name": name,
        "relevance": relevance,
        "scores": scores,
        "ndcg": {str(k): float(ndcg_score([relevance], [scores], k=k)) for k in KS},
    }


def main():
    rng = np.random.default_rng(SEED)
    cases = [
        case("two_tied_one_relevant", [1, 0], [0.5, 0.5]),
        case("signed_zero_ties", [0, 1, 0, 1], [0.0, -0.0, 0.3, 0.0]),
        case("all_tied", [0, 1, 1, 0, 0, 1], [0.25] * 6),
        case("no_relevant_row", [0, 0, 0], [0.9, 0.1, 0.5]),
        case("no_ties", [1, 0, 0, 1, 0], [0.9, 0.8, 0.7, 0.2, 0.1]),
    ]
    for n, levels, positive in [(50, 4, 0.3), (700, 11, 0.05), (1200, 101, 0.1), (2000, 1000, 0.02)]:
        scores = np.round(rng.random(n) * (levels - 1)) / (levels - 1)
        labels = (rng.random(n) < positive + 0.5 * positive * scores).astype(float)
        cases.append(case(f"binary_n{n}_levels{levels}", labels, scores))
    graded = rng.integers(0, 4, 300)
    cases.append(case("graded_n300_levels6", graded, np.round(rng.random(300) * 5) / 5))
    fixture = {"sklearn_version": sklearn.__version__, "ks": KS, "cases": cases}
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as out:
        json.dump(fixture, out, sort_keys=True)
        out.write("\n")


if __name__ == "__main__":
    main()
