#!/usr/bin/env python3
"""Writes a safetensors file byte by byte for the bad-input cases, so any
header can be made, valid or not (docs/FORMATS.md, "safetensors").

usage: stfile.py OUT HEADER DATA_BYTES [HEADER_LENGTH]
  HEADER       the header text, written as given (JSON or not), or '@FILE'
               to take it from FILE
  DATA_BYTES   bytes after the header (each 0x00, or '@FILE' to copy FILE)
  HEADER_LENGTH  the u64 written first, when it should lie (default: the
               header's real length); a length past the header makes a
               sparse file that really is that long when followed by 'sparse'"""
import os
import struct
import sys


def main():
    out, header, data = sys.argv[1], sys.argv[2].encode(), sys.argv[3]
    if header.startswith(b"@"):
        with open(header[1:], "rb") as src:
            header = src.read()
    hlen = int(sys.argv[4]) if len(sys.argv) > 4 else len(header)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", hlen))
        f.write(header)
        if data.startswith("@"):
            with open(data[1:], "rb") as src:
                f.write(src.read())
        else:
            f.write(bytes(int(data)))
    if len(sys.argv) > 5 and sys.argv[5] == "sparse":
        os.truncate(out, 8 + hlen)


if __name__ == "__main__":
    main()
