#!/usr/bin/env python3
"""Difficulty check for synthetic SOT history written by `examples/generate_batch.rs`.

Usage: python3 scripts/synth_difficulty.py HISTORY_DIR
(HISTORY_DIR holds one sub-directory per processing date, generated with --labels.)

Joins alerts with features.parquet (by address) and address_labels.parquet, applies the contract
label rule (risk_level high/critical -> 1, low/medium -> 0, unlabelled dropped), trains LightGBM on
days 1..k and tests on day k+1 for every k, and prints the illicit rate plus test AUC of a
severity+confidence-only model and of an alert+address-features model. A realistic generator
gives a clearly weaker first model (~0.6-0.75) and a strong but not perfect second (~0.85-0.95).
It also prints the share of each day's alerts on the data owner's registry of verified-clean
entities (labels with source `sot_registry`), with and without the pattern-trap alerts.
"""
import json
import sys
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from sklearn.metrics import roc_auc_score

SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}
LABEL_RULE = {"high": 1, "critical": 1, "low": 0, "medium": 0}


def load_day(day_dir: Path) -> pd.DataFrame:
    alerts = pq.read_table(day_dir / "alerts.parquet").to_pandas()
    features = pq.read_table(day_dir / "features.parquet").to_pandas()
    labels = pq.read_table(day_dir / "address_labels.parquet").to_pandas()
    labels = labels.assign(y=labels["risk_level"].map(LABEL_RULE)).dropna(subset=["y"])
    labels = labels.drop_duplicates("address")[["address", "y"]]
    features = features.drop(
        columns=[c for c in ("window_days", "processing_date") if c in features.columns]
    )
    df = alerts.merge(features, on="address", how="left", suffixes=("", "_feat"))
    df = df.merge(labels, on="address", how="inner")
    df["severity_rank"] = df["severity"].map(SEVERITY_RANK).astype(float)
    df["volume_usd"] = df["volume_usd"].astype(float)
    return df


def registry_share(day_dir: Path) -> str:
    """Share of the day's alerts on registry addresses: all alerts, and alerts outside the traps."""
    alerts = pq.read_table(day_dir / "alerts.parquet", columns=["alert_id", "address"]).to_pandas()
    labels = pq.read_table(day_dir / "address_labels.parquet", columns=["address", "source"]).to_pandas()
    registry = set(labels.loc[labels["source"] == "sot_registry", "address"])
    meta = json.loads((day_dir / "META.json").read_text())
    traps = {i for t in meta.get("pattern_traps", []) for i in t["alert_ids"]}
    on = alerts["address"].isin(registry)
    ordinary = ~alerts["alert_id"].isin(traps)
    return (
        f"registry {len(registry)} addresses, alerts on it {on.mean():.2%} "
        f"({(on & ordinary).sum() / max(ordinary.sum(), 1):.2%} outside the traps)"
    )


def numeric_columns(df: pd.DataFrame) -> list:
    skip = {"y", "window_days"}
    cols = []
    for c in df.columns:
        if c in skip:
            continue
        if pd.api.types.is_bool_dtype(df[c]) or pd.api.types.is_numeric_dtype(df[c]):
            cols.append(c)
        elif df[c].dtype == object and c in ("typology_type", "pattern_type", "suspected_address_type"):
            cols.append(c)
    return cols


def prepare(df: pd.DataFrame, cols: list) -> pd.DataFrame:
    x = df[cols].copy()
    for c in cols:
        if x[c].dtype == object:
            x[c] = x[c].astype("category")
        elif pd.api.types.is_bool_dtype(x[c]):
            x[c] = x[c].astype(float)
        else:
            x[c] = x[c].astype(float)
    return x


def auc_for(train: pd.DataFrame, test: pd.DataFrame, cols: list) -> float:
    xtr, xte = prepare(train, cols), prepare(test, cols)
    for c in cols:
        if str(xtr[c].dtype) == "category":
            cats = sorted(set(xtr[c].astype(str)) | set(xte[c].astype(str)))
            xtr[c] = pd.Categorical(train[c].astype(str), categories=cats)
            xte[c] = pd.Categorical(test[c].astype(str), categories=cats)
    model = lgb.LGBMClassifier(
        n_estimators=200, learning_rate=0.05, num_leaves=31, min_child_samples=20,
        subsample=0.8, subsample_freq=1, colsample_bytree=0.8, random_state=7, verbose=-1,
    )
    model.fit(xtr, train["y"].astype(int))
    return roc_auc_score(test["y"].astype(int), model.predict_proba(xte)[:, 1])


def main() -> None:
    root = Path(sys.argv[1])
    days = sorted(p for p in root.iterdir() if (p / "alerts.parquet").exists())
    frames = [load_day(d) for d in days]
    for d, f in zip(days, frames):
        n_alerted = f["address"].nunique()
        rate = f.drop_duplicates("address")["y"].mean()
        print(
            f"{d.name}: labelled alerts {len(f)}, labelled alerted addresses {n_alerted}, "
            f"illicit rate {rate:.3f}, {registry_share(d)}"
        )
    simple = ["severity_rank", "alert_confidence_score"]
    full = numeric_columns(frames[0])
    print(f"full model columns ({len(full)}): {', '.join(full)}")
    for k in range(1, len(frames)):
        train = pd.concat(frames[:k], ignore_index=True)
        test = frames[k]
        a_simple = auc_for(train, test, simple)
        a_full = auc_for(train, test, full)
        print(f"train days 1..{k} -> test day {k + 1}: AUC severity+confidence {a_simple:.3f}, alert+address {a_full:.3f}")


if __name__ == "__main__":
    main()
