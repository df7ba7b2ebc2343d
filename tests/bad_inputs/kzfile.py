#!/usr/bin/env python3
"""Crafts edited kaizen binary files for the bad-input cases: a .kzm model or
a .kzc checkpoint with fields of its JSON parts replaced and the kz64
checksum recomputed, so that the loader's checks past the checksum are what
refuse it (docs/FORMATS.md has both layouts and the checksum).

usage: kzfile.py FILE PART.KEY[.KEY...]=JSON ...
  PART is "meta" (.kzm, .kzc) or "state" (.kzc), e.g.
  kzfile.py model.kzm 'meta.config.hidden=[20000, 20000]'
  kzfile.py ckpt.kzc state.step=-5"""
import json
import struct
import sys

M64 = (1 << 64) - 1
P1, P2 = 0x100000001B3, 0x9E3779B97F4A7C15


def rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def kz64(data):
    lanes = [(0xCBF29CE484222325 + i * P2) & M64 for i in range(4)]
    full = len(data) // 32 * 32
    for off in range(0, full, 32):
        w = struct.unpack_from("<4Q", data, off)
        lanes = [rotl(lanes[i] ^ w[i], 29) * P1 & M64 for i in range(4)]
    x = len(data) * P2 & M64
    for i in range(4):
        x = rotl(x ^ lanes[i], 29) * P1 & M64
    for b in data[full:]:
        x = (x ^ b) * P1 & M64
    x ^= x >> 30
    x = x * 0xBF58476D1CE4E5B9 & M64
    x ^= x >> 27
    x = x * 0x94D049BB133111EB & M64
    x ^= x >> 31
    return x


def set_path(obj, keys, value):
    for k in keys[:-1]:
        obj = obj[k]
    obj[keys[-1]] = value


def main():
    path, edits = sys.argv[1], sys.argv[2:]
    data = open(path, "rb").read()[:-8]
    magic = data[:4]
    off = 8
    parts = {}
    order = ["state", "meta"] if magic == b"KZC1" else ["meta"]
    for name in order:
        (n,) = struct.unpack_from("<Q", data, off)
        parts[name] = json.loads(data[off + 8:off + 8 + n])
        off += 8 + n
    rest = data[off:]
    for e in edits:
        lhs, value = e.split("=", 1)
        keys = lhs.split(".")
        set_path(parts[keys[0]], keys[1:], json.loads(value))
    out = bytearray(data[:8])
    for name in order:
        text = json.dumps(parts[name], separators=(",", ":"), sort_keys=True).encode()
        out += struct.pack("<Q", len(text)) + text
    out += rest
    out += struct.pack("<Q", kz64(bytes(out)))
    open(path, "wb").write(out)


main()
