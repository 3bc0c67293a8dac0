#!/usr/bin/env bash
# `aml-miner fetch` against a real S3-compatible server on loopback (moto_server from PyPI's
# `moto[server]`), never a fake: publish a generated day with boto3, fetch it, check it verifies
# and is byte-identical; fetch again (a no-op); resume from a half-downloaded file; refuse a
# tampered object without creating the day; `run-daily --once` fetches and scores a day into the
# store, does nothing the second time and exits 75 for a day not published yet. Run by .ci/run; needs python3 with moto[server] and
# boto3 (installed here when missing) and a built `aml-miner` (BIN, default target/release).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/aml-miner}
[ -x "$BIN" ] || cargo build --release --bin aml-miner
python3 -c 'import moto, boto3, flask' 2>/dev/null \
  || python3 -m pip install -q 'moto[server]' boto3 2>/dev/null \
  || python3 -m pip install -q --break-system-packages 'moto[server]' boto3

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
moto_server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$port/" >/dev/null 2>&1 && break
  sleep 0.2
done

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_ALLOW_HTTP=true

"$BIN" generate --out "$work/published" --date 2025-10-01 --days 1 --alerts 500 \
  --addresses 5000 --flows 100000 --seed 3 >/dev/null
day="$work/published/2025-10-01"
publish() {  # publish DIR PREFIX: every file of DIR as s3://sot-data/PREFIX/NAME
  python3 - "$1" "$2" <<'PY'
import os, sys, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
if "sot-data" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
    s3.create_bucket(Bucket="sot-data")
for name in sorted(os.listdir(sys.argv[1])):
    s3.upload_file(os.path.join(sys.argv[1], name), "sot-data", f"{sys.argv[2]}/{name}")
PY
}
publish "$day" torus/2025-10-01

# 1. Fetch, verify, compare bytes.
"$BIN" fetch --from s3://sot-data/torus/2025-10-01/ --to "$work/batches/2025-10-01"
"$BIN" verify "$work/batches/2025-10-01" >/dev/null
diff -r "$day" "$work/batches/2025-10-01"
# 2. Again: nothing to do. With the config instead of flags: source.url + --date.
cat >"$work/aml-miner.toml" <<TOML
[source]
url = "s3://sot-data/torus/"
batches = "$work/batches"
TOML
"$BIN" --config "$work/aml-miner.toml" fetch --date 2025-10-01 | grep -q "already complete"
# 3. Resume: a crashed run left META.json, one finished file and half of the flows.
staging="$work/batches2/.2025-10-01.fetching"
mkdir -p "$staging"
cp "$day/META.json" "$day/alerts.parquet" "$staging/"
size=$(stat -c %s "$day/money_flows.parquet")
head -c $((size / 2)) "$day/money_flows.parquet" >"$staging/money_flows.parquet.part"
"$BIN" fetch --from s3://sot-data/torus/2025-10-01/ --to "$work/batches2/2025-10-01" | tee "$work/resume.txt"
grep -q "money_flows.parquet: $size bytes (resumed, $((size - size / 2)) bytes downloaded)" "$work/resume.txt"
grep -q "alerts.parquet: .* (already staged, verified)" "$work/resume.txt"
diff -r "$day" "$work/batches2/2025-10-01"
# 4. A tampered object: refused, naming the file; the day does not appear.
cp -r "$day" "$work/tampered"
printf 'x' | dd of="$work/tampered/clusters.parquet" bs=1 seek=100 conv=notrunc 2>/dev/null
publish "$work/tampered" torus/2025-10-02
if "$BIN" fetch --from s3://sot-data/torus/2025-10-02/ --to "$work/batches/2025-10-02" 2>"$work/err.txt"; then
  echo "FAIL: a tampered day was accepted"; exit 1
fi
grep -q "clusters.parquet: sha256" "$work/err.txt"
[ ! -e "$work/batches/2025-10-02" ]
# 5. The daily loop once: fetch (into a fresh batches directory), verify, score into the store;
#    a second run does nothing; a day not published yet exits 75.
cat >"$work/daily.toml" <<TOML
store = "$work/store"
models = "$PWD/trained_models"
[source]
url = "s3://sot-data/torus/"
batches = "$work/daily-batches"
[training]
bundles = "$work/bundles"
TOML
daily() { "$BIN" --config "$work/daily.toml" run-daily --once "$@"; }
daily --date 2025-10-01 | tee "$work/daily1.txt"
grep -q "fetch .*fetched" "$work/daily1.txt"
grep -q "score .*scored" "$work/daily1.txt"
diff -r "$day" "$work/daily-batches/2025-10-01"
[ -f "$work/store/2025-10-01/receipt.json" ]
receipt=$(sha256sum <"$work/store/2025-10-01/receipt.json")
daily --date 2025-10-01 | grep -q "skipped: already scored"
[ "$(sha256sum <"$work/store/2025-10-01/receipt.json")" = "$receipt" ]
rc=0
daily --date 2025-10-09 2>"$work/daily-err.txt" || rc=$?
[ "$rc" -eq 75 ] && grep -q "not published yet" "$work/daily-err.txt"
echo "fetch and run-daily --once against moto_server on 127.0.0.1:$port: all checks pass"
