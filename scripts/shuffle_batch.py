#!/usr/bin/env python3
"""Write a copy of a batch directory with every Parquet file's rows shuffled (seeded), and
META.json's sha256 entries updated: the input for the full-size row-order invariance check.

    python3 scripts/shuffle_batch.py SRC_BATCH DST_BATCH [--seed 1] [--row-group-size 1000000]

Then score both and compare bytes (README "Determinism"):

    cargo run --release --example score_batch -- --batch SRC --out /tmp/a
    cargo run --release --example score_batch -- --batch DST --out /tmp/b
    cmp /tmp/a/scores.parquet /tmp/b/scores.parquet   # and rankings / cluster_scores

The row-group size differs from the source on purpose, so the reader's per-row-group work is
exercised with another split too. Needs pyarrow and numpy (never needed by `cargo test`).
"""
import argparse
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("src", type=Path)
    ap.add_argument("dst", type=Path)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--row-group-size", type=int, default=1_000_000)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    args.dst.mkdir(parents=True, exist_ok=True)
    meta = json.loads((args.src / "META.json").read_text())
    for name in sorted(meta["sha256"]):
        table = pq.read_table(args.src / name)
        order = rng.permutation(table.num_rows)
        pq.write_table(table.take(order), args.dst / name, row_group_size=args.row_group_size)
        meta["sha256"][name] = sha256(args.dst / name)
    for extra in sorted(args.src.iterdir()):
        if extra.name != "META.json" and extra.name not in meta["sha256"] and extra.is_file():
            shutil.copy(extra, args.dst / extra.name)
    (args.dst / "META.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"shuffled {len(meta['sha256'])} files into {args.dst}")


if __name__ == "__main__":
    main()
