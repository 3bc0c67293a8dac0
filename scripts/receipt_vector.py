#!/usr/bin/env python3
"""Produce the receipt test vector for aml-core.

Validators verify miner receipts in Python: the signed bytes are
json.dumps(receipt_without_signature, sort_keys=True) and the signature is
ed25519 (hex) by the key in miner_pubkey. This script writes a fixed vector:
the key seed, a receipt with the template's keys, our extra `batch_hash` and
keys a verifier does not know, holding every JSON type (strings with awkward
characters, integers up to 64 bits, floats in every form Python's repr takes,
booleans, null, nested objects and lists, keys outside ASCII), the canonical
bytes, the signature, and the signed receipt as a validator receives it
(`receipt_json`, keys in insertion order). The Rust test
`receipt_matches_the_python_vector` must reproduce the canonical bytes and the
signature byte for byte and verify the receipt read from `receipt_json`.

Usage: python3 scripts/receipt_vector.py > crates/aml-core/tests/fixtures/receipt_vector.json
Requires the `cryptography` package (only for producing the fixture).
"""
import json
import random
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SEED = bytes(range(32))


def floats():
    """Floats in every form repr takes, plus random ones over the whole exponent range."""
    fixed = [
        0.0, -0.0, 0.1, -2.5, 1.0, 123.0, 1e15, 1e16, 1.5e16, 123456789012345.6,
        0.0001, 0.00001, 1.5e-5, 1e-7, 1e22, 1e100, 5e-324, 2.2250738585072014e-308,
        1.7976931348623157e308, 0.30000000000000004, 2.0 ** 53, 1 / 3,
    ]
    rng = random.Random(20251030)
    drawn = [
        rng.choice([-1, 1]) * rng.random() * 10.0 ** rng.randint(-320, 300)
        for _ in range(60)
    ] + [rng.random() for _ in range(20)]
    return fixed + drawn


RECEIPT = {
    "timestamp": "2025-10-30T12:00:00Z caf\u00e9 \u20ac \U0001F600 \u65e5\u672c",
    "model_version": "gbdt-v1 \"quoted\" back\\slash tab\t nl\n del\x7f ctl\x01 /slash",
    "input_hash": "3f" * 32,
    "image_digest": "sha256:" + "5e" * 32,
    "scores_hash": "a1" * 32,
    "batch_hash": "c0" * 32,
    "zz_unknown_text": "line\u2028sep \ud7ff \ue000 \uffff",
    "Zeta capital sorts first": True,
    "~tilde": False,
    "\u00e9t\u00e9 key": None,
    "ints": [0, 1, -1, 42, 2 ** 53 + 1, 2 ** 63 - 1, -(2 ** 63), 2 ** 64 - 1],
    "floats": floats(),
    "nested": {
        "b": {"y": [1, 2.5, {"k": "v", "a": []}], "x": {}},
        "a": [None, True, False, "s", -0.0],
        "A": 7,
    },
    "empty_object": {},
    "empty_list": [],
}


def main():
    key = Ed25519PrivateKey.from_private_bytes(SEED)
    pubkey = key.public_key().public_bytes(
        encoding=serialization.Encoding.Raw, format=serialization.PublicFormat.Raw
    ).hex()
    receipt = dict(RECEIPT, miner_pubkey=pubkey)
    canonical = json.dumps(receipt, sort_keys=True)
    signature = key.sign(canonical.encode("utf-8")).hex()
    signed = dict(receipt, signature=signature)
    vector = {
        "seed_hex": SEED.hex(),
        "canonical": canonical,
        "signature": signature,
        "receipt_json": json.dumps(signed),
    }
    json.dump(vector, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
