#!/usr/bin/env bash
# Builds the statically linked `aml-miner` (glibc, +crt-static, symbols stripped) and the OCI
# image of Containerfile around it and the shipped trained_models/. IMAGE names the image
# (default localhost/aml-miner:latest). Prints the image digest, which receipts then name when the
# container runs with -e AML_MINER_IMAGE_DIGEST=<digest>.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-localhost/aml-miner:latest}
TARGET=${TARGET:-x86_64-unknown-linux-gnu}
# An explicit --target keeps these static objects apart from the host build in target/release.
RUSTFLAGS="-C target-feature=+crt-static" CARGO_PROFILE_RELEASE_DEBUG=0 \
  CARGO_PROFILE_RELEASE_STRIP=symbols \
  cargo build --release --locked --bin aml-miner --target "$TARGET"
bin="${CARGO_TARGET_DIR:-target}/$TARGET/release/aml-miner"
# A static binary has no NEEDED entries (no shared library to find in an empty image).
if readelf -d "$bin" | grep -q NEEDED; then
  echo "FAIL: $bin needs shared libraries:"; readelf -d "$bin" | grep NEEDED; exit 1
fi
context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$bin" "$context/aml-miner"
cp -r trained_models "$context/trained_models"
# shellcheck source=scripts/podman-env.sh
. scripts/podman-env.sh
pod build --quiet --network=none -f Containerfile -t "$IMAGE" "$context" >/dev/null
echo "built $IMAGE: $(pod image inspect --format '{{.Digest}}' "$IMAGE")"
