#!/usr/bin/env python3
"""Packs OpenAI's cl100k_base token table (the `cl100k_base.tiktoken` file tiktoken and tiktoken-rs
ship: one base64 token and its rank per line, ranks 0..100255 in order) into the compact form
LocalGPT builds into its binary: each token's bytes after one length byte, in rank order, deflated.
1.68 MB of text becomes about 0.46 MB; `crates/agent/src/runtime/cl100k.rs` reads it back.

Usage: scripts/pack-cl100k.py [TIKTOKEN_FILE] [OUT]
(defaults: the file in the tiktoken-rs crate Cargo downloaded, crates/agent/assets/cl100k_base.bin.deflate)
"""
import base64
import glob
import os
import pathlib
import sys
import zlib

root = pathlib.Path(__file__).resolve().parent.parent
source = sys.argv[1] if len(sys.argv) > 1 else sorted(glob.glob(os.path.expanduser(
    "~/.cargo/registry/src/*/tiktoken-rs-*/assets/cl100k_base.tiktoken")))[-1]
out = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else root / "crates/agent/assets/cl100k_base.bin.deflate"
blob = bytearray()
for expected, line in enumerate(open(source, encoding="ascii").read().splitlines()):
    token_b64, rank = line.split(" ")
    if int(rank) != expected:
        sys.exit(f"{source}: rank {rank} out of order at line {expected + 1}")
    token = base64.b64decode(token_b64)
    if not 0 < len(token) < 256:
        sys.exit(f"{source}: token of {len(token)} bytes at rank {rank}")
    blob.append(len(token))
    blob += token
out.write_bytes(zlib.compress(bytes(blob), 9))
print(f"{expected + 1} tokens, {len(blob)} bytes, {out.stat().st_size} deflated -> {out}")
