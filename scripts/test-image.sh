#!/usr/bin/env bash
# The image for real (issue 17): build it, score a generated day on the host and in the container
# with no network, and check the three Parquet outputs are byte-identical, the scores_hash equal,
# and the container's receipt names the image's digest. Needs root and podman + runc (Debian
# packages); run by .ci/run when podman is there.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-localhost/aml-miner:test}
TARGET=${TARGET:-x86_64-unknown-linux-gnu}
IMAGE=$IMAGE TARGET=$TARGET scripts/build-image.sh
# shellcheck source=scripts/podman-env.sh
. scripts/podman-env.sh
bin="${CARGO_TARGET_DIR:-target}/$TARGET/release/aml-miner"
digest=$(pod image inspect --format '{{.Digest}}' "$IMAGE")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
key=$(printf '42%.0s' $(seq 32))
"$bin" generate --out "$work/days" --date 2025-10-08 --days 1 --alerts 2000 --addresses 20000 \
  --flows 200000 --seed 11 2>/dev/null
day="$work/days/2025-10-08"
AML_MINER_KEY=$key "$bin" score --batch "$day" --models trained_models --store "$work/host" >/dev/null
mkdir -p "$work/container"
chmod 0777 "$work/container"   # the image runs as nobody (65534)
pod run --rm --network=none -e AML_MINER_KEY="$key" -e AML_MINER_IMAGE_DIGEST="$digest" \
  -v "$day:/in:ro" -v "$work/container:/out" "$IMAGE" score --batch /in --store /out >/dev/null
for f in scores.parquet rankings.parquet cluster_scores.parquet; do
  cmp "$work/host/2025-10-08/$f" "$work/container/2025-10-08/$f"
done
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$1" "$2"; }
[ "$(field "$work/host/2025-10-08/receipt.json" scores_hash)" = \
  "$(field "$work/container/2025-10-08/receipt.json" scores_hash)" ]
[ "$(field "$work/container/2025-10-08/receipt.json" image_digest)" = "$digest" ]
echo "image $IMAGE ($digest): --network=none run byte-identical to the host run; receipt names the image"
