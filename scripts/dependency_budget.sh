#!/usr/bin/env bash
# Dependency budget (issue 14): a user of the engine crates alone (GBDT training, LightGBM model
# files, batch prediction, TreeSHAP) must not pull in the miner's I/O, signing or HTTP stacks; nor
# must aml-core's light part (`io`, `date`, without `tables`), which the engine crates use.
# Each query below is `cargo tree` over normal (non-dev, non-build) dependencies of one crate built
# the way such a user builds it; the check fails if a forbidden crate appears in any of them.
set -euo pipefail
cd "$(dirname "$0")/.."

forbidden='^(arrow|arrow-[a-z0-9-]+|parquet|ed25519|ed25519-dalek|axum|axum-core|tokio|tokio-[a-z0-9-]+|zstd|zstd-[a-z0-9-]+) v'
queries=(
  "-p aml-core --no-default-features"
  "-p aml-models --no-default-features"
  "-p aml-train --no-default-features"
  "-p aml-explain"
)

status=0
for query in "${queries[@]}"; do
  # shellcheck disable=SC2086 # the query is a list of arguments
  tree=$(cargo tree $query -e normal --prefix none | sed 's/ (\*)$//' | sort -u)
  count=$(printf '%s\n' "$tree" | wc -l)
  bad=$(printf '%s\n' "$tree" | grep -E "$forbidden" || true)
  if [ -n "$bad" ]; then
    echo "FAIL: cargo tree $query: $count crates, including forbidden ones:"
    printf '%s\n' "$bad" | sed 's/^/  /'
    status=1
  else
    echo "ok: cargo tree $query: $count crates, none of arrow, parquet, ed25519, axum, tokio, zstd"
  fi
done
[ "$status" -eq 0 ] || exit "$status"

# `cargo test --workspace` unifies features, so it never builds the engine alone: check that it
# compiles, tests, benches and examples included, without the default features.
cargo clippy -p aml-models -p aml-train -p aml-explain --no-default-features --all-targets -- -D warnings
# aml-core's dev-dependency on aml-synth turns `tables` on in its own test build: check its library
# alone without it.
cargo clippy -p aml-core --no-default-features --lib -- -D warnings
