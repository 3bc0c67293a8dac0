"""Peer for the featurisation benchmark: the seeds' pandas template.

Reads a batch directory and does what the seeds' Python miner does: merge a few alert columns
with the address features and per-alert cluster statistics (no money-flow graph), then one-hot
the typology. Prints load and merge times separately, like examples/build_features.rs.

usage: python benches/peers/features_pandas.py BATCH_DIR
"""
import sys
import time

import numpy as np
import pandas as pd


def main(batch_dir: str) -> None:
    t0 = time.perf_counter()
    alerts = pd.read_parquet(f"{batch_dir}/alerts.parquet")
    features = pd.read_parquet(f"{batch_dir}/features.parquet")
    clusters = pd.read_parquet(f"{batch_dir}/clusters.parquet")
    load_s = time.perf_counter() - t0

    t1 = time.perf_counter()
    sev = {"low": 0, "medium": 1, "high": 2, "critical": 3}
    a = alerts[["alert_id", "address", "typology_type", "severity", "alert_confidence_score", "volume_usd"]].copy()
    a["severity_ordinal"] = a["severity"].str.lower().map(sev).fillna(1)
    a["log_volume_usd"] = np.log1p(pd.to_numeric(a["volume_usd"], errors="coerce").astype("float64"))
    numeric = features.select_dtypes(include=["number", "bool"]).astype("float64")
    numeric = numeric.drop(columns=[c for c in ("window_days",) if c in numeric.columns])
    numeric.insert(0, "address", features["address"])
    merged = a.merge(numeric, on="address", how="left")
    exploded = clusters[["cluster_id", "related_alert_ids", "total_alerts", "total_volume_usd", "confidence_avg"]]
    exploded = exploded.explode("related_alert_ids").rename(columns={"related_alert_ids": "alert_id"})
    exploded["total_volume_usd"] = pd.to_numeric(exploded["total_volume_usd"], errors="coerce").astype("float64")
    stats = exploded.groupby("alert_id").agg(
        cl_count=("cluster_id", "nunique"),
        cl_max_total_alerts=("total_alerts", "max"),
        cl_mean_total_alerts=("total_alerts", "mean"),
        cl_max_volume=("total_volume_usd", "max"),
        cl_mean_confidence=("confidence_avg", "mean"),
    )
    merged = merged.merge(stats, left_on="alert_id", right_index=True, how="left")
    merged["cl_count"] = merged["cl_count"].fillna(0)
    merged = pd.concat([merged, pd.get_dummies(merged["typology_type"], prefix="typology_type", dtype="float32")], axis=1)
    merged = merged.drop(columns=["address", "typology_type", "severity", "volume_usd"]).sort_values("alert_id")
    matrix = merged.drop(columns=["alert_id"]).to_numpy(dtype=np.float32)
    merge_s = time.perf_counter() - t1
    print(f"matrix: {matrix.shape[0]} rows x {matrix.shape[1]} features")
    print(f"load {load_s:.3f} s | merge {merge_s:.3f} s")


if __name__ == "__main__":
    main(sys.argv[1])
