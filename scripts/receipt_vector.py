#!/usr/bin/env python3
"""Produce the receipt test vector for aml-core.

Validators verify miner receipts in Python: the signed bytes are
json.dumps(receipt_without_signature, sort_keys=True) and the signature is
ed25519 (hex) by the key in miner_pubkey. This script writes a fixed vector
(key seed, receipt fields with awkward characters, the canonical bytes and the
signature) that the Rust test `receipt_vector` must reproduce byte for byte.

Usage: python3 scripts/receipt_vector.py > crates/aml-core/tests/fixtures/receipt_vector.json
Requires the `cryptography` package (only for producing the fixture).
"""
import json
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

SEED = bytes(range(32))

RECEIPT = {
    "input_hash": "3f" * 32,
    "scores_hash": "a1" * 32,
    "model_version": "gbdt-v1 \"quoted\" back\\slash tab\t nl\n del\x7f ctl\x01",
    "timestamp": "2025-10-30T12:00:00Z caf\u00e9 \u20ac \U0001F600 \u65e5\u672c",
}


def main():
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    pubkey = key.public_key().public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    ).hex()
    receipt = dict(RECEIPT, miner_pubkey=pubkey)
    canonical = json.dumps(receipt, sort_keys=True)
    signature = key.sign(canonical.encode("utf-8")).hex()
    vector = {
        "seed_hex": SEED.hex(),
        "receipt": dict(receipt, signature=signature),
        "canonical": canonical,
    }
    json.dump(vector, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
