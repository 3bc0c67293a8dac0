#!/usr/bin/env python3
"""Does exposure to known-risk counterparties add to the label memory? (issue 15 item 5, measured
before building it in Rust.)

DAYS_DIR holds labelled days named YYYY-MM-DD (`aml-miner generate ... --labels`). For each day d
from the 8th on, the memory is every earlier day's address_labels (an address's risk level on a day
is the highest of its rows, as `aml_features::memory`); d's alerts get:
  mem_max, mem_days, mem_high     the memory of the alerted address (max risk, days labelled,
                                  days at high or critical)
  exp_hi, exp_lo, exp_hi_share    over d's money_flows neighbours (in and out, self-loops dropped):
  exp_hi_usd, exp_lo_usd          neighbours the memory knows at max risk >= high / = low, their
                                  share of the neighbours, share of in+out USD volume with them
  hop2                            USD-weighted mean of the neighbours' exp_hi_share
  com_hi, com_hi_share, com_hi_known  known-high members of the alerted address's template
                                  community (features.parquet community_id): count, share of the
                                  community, share of its known members
The target is the alerted address's risk level on d >= high (unlabelled alerts dropped).
Prints each column's single-feature AUC per day, then held-out AUC of LightGBM on feature sets
(the template's features.parquet + alert confidence/severity, + memory, + exposure): trained on
days 8..split, tested on the days after, mean over 3 LightGBM seeds and those days.

Usage: python3 benches/peers/exposure_signal.py DAYS_DIR
Needs: numpy, pandas, pyarrow, scikit-learn, lightgbm (not needed by `cargo test`)."""
import os
import sys

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pipeline_seeds import RISK  # noqa: E402  (one contract-label rule for every peer)


def day_risk(path):
    lab = pd.read_parquet(f"{path}/address_labels.parquet", columns=["address", "risk_level"])
    lab["r"] = lab["risk_level"].str.strip().str.lower().map(RISK)
    return lab.dropna(subset=["r"]).groupby("address")["r"].max()


def exposure(path, mem):
    f = pd.read_parquet(f"{path}/money_flows.parquet", columns=["from_address", "to_address", "amount_usd_sum"])
    usd = f["amount_usd_sum"].astype(float)
    e = pd.concat([pd.DataFrame({"a": f["from_address"], "n": f["to_address"], "usd": usd}),
                   pd.DataFrame({"a": f["to_address"], "n": f["from_address"], "usd": usd})])
    e = e[e["a"] != e["n"]]
    r = e["n"].map(mem)
    e["hi"], e["lo"] = r >= 2, r == 0
    e["hiv"], e["lov"] = e["usd"] * e["hi"], e["usd"] * e["lo"]
    g = e.groupby("a").agg(deg=("n", "size"), hi=("hi", "sum"), lo=("lo", "sum"), usd=("usd", "sum"),
                           hiv=("hiv", "sum"), lov=("lov", "sum"))
    vol = g["usd"].replace(0, np.nan)
    out = pd.DataFrame({"exp_deg": g["deg"], "exp_hi": g["hi"], "exp_lo": g["lo"], "exp_hi_share": g["hi"] / g["deg"],
                        "exp_hi_usd": g["hiv"] / vol, "exp_lo_usd": g["lov"] / vol})
    e["nh"] = e["n"].map(out["exp_hi_share"]).fillna(0) * e["usd"]
    g2 = e.groupby("a")[["nh", "usd"]].sum()
    out["hop2"] = g2["nh"] / g2["usd"].replace(0, np.nan)
    return out


def day_rows(path, mem_days):
    mem_all = pd.concat(mem_days)
    mem = mem_all.groupby(level=0).max()
    alerts = pd.read_parquet(f"{path}/alerts.parquet", columns=["address", "alert_confidence_score", "severity"])
    y = alerts["address"].map(day_risk(path))
    a = alerts[y.notna()].reset_index(drop=True)
    a["y"] = (y.dropna().to_numpy() >= 2).astype(int)
    a["mem_max"] = a["address"].map(mem)
    a["mem_days"] = a["address"].map(mem_all.groupby(level=0).size())
    a["mem_high"] = a["address"].map((mem_all >= 2).groupby(level=0).sum())
    a = a.join(exposure(path, mem).reindex(a["address"]).reset_index(drop=True))
    feats = pd.read_parquet(f"{path}/features.parquet").set_index("address")
    com = pd.DataFrame({"c": feats["community_id"], "r": feats.index.map(mem)})
    com["hi"], com["known"] = com["r"] >= 2, com["r"].notna()
    cg = com.groupby("c").agg(size=("r", "size"), hi=("hi", "sum"), known=("known", "sum"))
    ac = a["address"].map(feats["community_id"])
    a["com_hi"] = ac.map(cg["hi"])
    a["com_hi_share"] = ac.map(cg["hi"] / cg["size"])
    a["com_hi_known"] = ac.map(cg["hi"] / cg["known"].replace(0, np.nan))
    x = feats.drop(columns=["window_days", "processing_date", "community_id"])
    x = x.apply(lambda s: pd.to_numeric(s, errors="coerce") if s.dtype == object else s)
    x = x.select_dtypes(include=[np.number, bool]).astype(float).add_prefix("f_")
    a = a.join(x.reindex(a["address"]).reset_index(drop=True))
    a["sev"] = a["severity"].str.strip().str.lower().map(RISK)
    return a.drop(columns=["severity", "address"])


def main():
    root = sys.argv[1]
    days = sorted(d for d in os.listdir(root) if os.path.isfile(f"{root}/{d}/address_labels.parquet"))
    risks = [day_risk(f"{root}/{d}") for d in days]
    rows = []
    single = ["mem_max", "exp_hi", "exp_hi_share", "exp_hi_usd", "exp_lo_usd", "hop2", "com_hi_share"]
    print("day " + " ".join(single))
    for i in range(7, len(days)):
        a = day_rows(f"{root}/{days[i]}", risks[:i])
        a["day"] = i
        rows.append(a)
        print(days[i], " ".join(f"{roc_auc_score(a['y'], a[c].fillna(-1)):.3f}" for c in single), flush=True)
    data = pd.concat(rows, ignore_index=True)
    base = [c for c in data.columns if c.startswith("f_")] + ["alert_confidence_score", "sev"]
    mem = base + ["mem_max", "mem_days", "mem_high"]
    exp = mem + ["exp_hi", "exp_lo", "exp_hi_share", "exp_hi_usd", "exp_lo_usd"]
    sets = [("features", base), ("+memory", mem), ("+memory+exposure", exp),
            ("+memory+exposure+hop2", exp + ["hop2"]), ("+memory+community", mem + ["com_hi", "com_hi_share", "com_hi_known"])]
    last = len(days) - 1
    for split in (9, 11):
        train = data[data["day"] <= split]
        for name, cols in sets:
            auc, auc_unknown = [], []
            for seed in (1, 2, 3):
                model = lgb.LGBMClassifier(n_estimators=300, learning_rate=0.05, num_leaves=31, subsample=0.8,
                                           subsample_freq=1, colsample_bytree=0.8, seed=seed, verbose=-1)
                model.fit(train[cols], train["y"])
                for d in range(split + 1, last + 1):
                    t = data[data["day"] == d]
                    p = model.predict_proba(t[cols])[:, 1]
                    auc.append(roc_auc_score(t["y"], p))
                    u = t["mem_max"].isna().to_numpy()
                    auc_unknown.append(roc_auc_score(t["y"][u], p[u]))
            print(f"train {days[7]}..{days[split]} {name:24s} AUC {np.mean(auc):.4f} "
                  f"(memory-unknown alerts {np.mean(auc_unknown):.4f})", flush=True)


if __name__ == "__main__":
    main()
