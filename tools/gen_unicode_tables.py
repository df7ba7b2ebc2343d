#!/usr/bin/env python3
"""Generate data/text/unicode_tables.c: the Unicode facts the WordPiece
tokenizer needs, as compact sorted range tables searched by bisection.

Usage: python3 tools/gen_unicode_tables.py [OUT.c]   (default data/text/unicode_tables.c)

Only Python's standard unicodedata module is used, so the tables follow the
Unicode version of the Python that runs this script (recorded in the output).
The engine never runs Python: the generated file is committed.
"""
import sys
import unicodedata

MAX_CP = 0x110000

# Unicode's White_Space property (PropList.txt). unicodedata does not expose
# it, and str.isspace() differs (it includes U+001C..U+001F), so it is listed
# here; the set has been stable since Unicode 4.1.
WHITE_SPACE = [(0x09, 0x0D), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680),
               (0x2000, 0x200A), (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F),
               (0x3000, 0x3000)]

# The "CJK ideograph" blocks BERT pads with spaces: CJK Unified Ideographs,
# extensions A-D and the compatibility ideographs (not Hangul, kana or CJK
# punctuation). Hugging Face's fast tokenizer leaves out extension E
# (U+2B820..U+2CEAF), which the original Python BERT code lists; we follow the
# fast tokenizer, the one whose offsets we match.
CJK = [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
       (0x2B740, 0x2B81F), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)]

HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3


def ranges_of(pred):
    out = []
    start = None
    for cp in range(MAX_CP + 1):
        hit = cp < MAX_CP and pred(cp)
        if hit and start is None:
            start = cp
        elif not hit and start is not None:
            out.append((start, cp - 1))
            start = None
    return out


def cat(cp):
    return unicodedata.category(chr(cp))


def is_ascii_symbol(cp):
    return 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126


def lower_runs():
    """Single-code-point lowercase mappings folded into runs of
    (first, last, delta, step): every step-th code point from first to last
    maps to itself + delta. Two-step runs cover the alternating
    upper/lower layout of Latin Extended and similar blocks."""
    pairs = []
    for cp in range(MAX_CP):
        low = chr(cp).lower()
        if len(low) == 1 and ord(low) != cp:
            pairs.append((cp, ord(low) - cp))
    runs = []
    i = 0
    while i < len(pairs):
        cp, delta = pairs[i]
        best = (cp, 1)  # (last, step)
        for step in (1, 2):
            j = i
            while (j + 1 < len(pairs) and pairs[j + 1][0] == pairs[j][0] + step
                   and pairs[j + 1][1] == delta):
                j += 1
            if j > i and pairs[j][0] > best[0]:
                best = (pairs[j][0], step)
        last, step = best
        runs.append((cp, last, delta, step))
        while i < len(pairs) and pairs[i][0] <= last:
            i += 1
    return runs


def lower_multi():
    out = []
    for cp in range(MAX_CP):
        low = chr(cp).lower()
        if len(low) > 1:
            out.append((cp, [ord(c) for c in low]))
    return out


def decompositions():
    """Full canonical decompositions (already recursive, as NFD yields them),
    except Hangul syllables, which the C code decomposes arithmetically."""
    out = []
    for cp in range(MAX_CP):
        if HANGUL_FIRST <= cp <= HANGUL_LAST:
            continue
        d = unicodedata.normalize("NFD", chr(cp))
        if d != chr(cp):
            out.append((cp, [ord(c) for c in d]))
    return out


def combining_classes():
    """(first, last, class) runs of non-zero canonical combining class."""
    out = []
    cp = 0
    while cp < MAX_CP:
        c = unicodedata.combining(chr(cp))
        if c:
            last = cp
            while last + 1 < MAX_CP and unicodedata.combining(chr(last + 1)) == c:
                last += 1
            out.append((cp, last, c))
            cp = last + 1
        else:
            cp += 1
    return out


def emit_ranges(f, name, ranges):
    f.write(f"const kz_uc_range {name}[] = {{\n")
    for i in range(0, len(ranges), 4):
        chunk = ", ".join(f"{{0x{a:X}, 0x{b:X}}}" for a, b in ranges[i:i + 4])
        f.write(f"    {chunk},\n")
    f.write("};\n")
    f.write(f"const size_t {name}_count = {len(ranges)};\n\n")


def main():
    out_path = sys.argv[1] if len(sys.argv) > 1 else "data/text/unicode_tables.c"
    # Unassigned code points (Cn) are kept as ordinary characters, as the HF
    # fast tokenizer does; they end up as [UNK] unless the vocabulary has them.
    control = ranges_of(lambda cp: cat(cp) in ("Cc", "Cf", "Co", "Cs") and cp not in (9, 10, 13))
    punct = ranges_of(lambda cp: cat(cp).startswith("P") or is_ascii_symbol(cp))
    mark_nonspacing = ranges_of(lambda cp: cat(cp) == "Mn")
    runs = lower_runs()
    multi = lower_multi()
    decomp = decompositions()
    ccc = combining_classes()

    with open(out_path, "w", encoding="ascii", newline="\n") as f:
        f.write("/* GENERATED by tools/gen_unicode_tables.py from Python's unicodedata\n")
        f.write(f" * (Unicode {unicodedata.unidata_version}). Do not edit: rerun the script. */\n")
        f.write("// clang-format off\n")
        f.write('#include "data/text/unicode_tables.h"\n\n')
        f.write(f'const char kz_uc_unicode_version[] = "{unicodedata.unidata_version}";\n\n')
        f.write("/* White_Space property. */\n")
        emit_ranges(f, "kz_uc_whitespace", WHITE_SPACE)
        f.write("/* General categories Cc Cf Cs Co, less TAB, LF, CR (removed from text). */\n")
        emit_ranges(f, "kz_uc_control", control)
        f.write("/* General category P* plus the ASCII symbols BERT treats as punctuation. */\n")
        emit_ranges(f, "kz_uc_punct", punct)
        f.write("/* General category Mn (dropped when stripping accents). */\n")
        emit_ranges(f, "kz_uc_mark_nonspacing", mark_nonspacing)
        f.write("/* CJK ideographs split into single-character words. */\n")
        emit_ranges(f, "kz_uc_cjk", sorted(CJK))

        f.write("/* Single-code-point lowercase mappings as runs. */\n")
        f.write("const kz_uc_case_run kz_uc_lower_runs[] = {\n")
        for a, b, d, s in runs:
            f.write(f"    {{0x{a:X}, 0x{b:X}, {d}, {s}}},\n")
        f.write("};\n")
        f.write(f"const size_t kz_uc_lower_runs_count = {len(runs)};\n\n")

        f.write("/* Lowercase mappings longer than one code point. */\n")
        f.write("const kz_uc_multi kz_uc_lower_multi[] = {\n")
        for cp, seq in multi:
            padded = seq + [0] * (4 - len(seq))
            f.write(f"    {{0x{cp:X}, {len(seq)}, {{{', '.join(f'0x{c:X}' for c in padded)}}}}},\n")
        f.write("};\n")
        f.write(f"const size_t kz_uc_lower_multi_count = {len(multi)};\n\n")

        f.write("/* Full canonical decompositions (Hangul syllables excluded: computed). */\n")
        pool = []
        entries = []
        for cp, seq in decomp:
            entries.append((cp, len(pool), len(seq)))
            pool.extend(seq)
        f.write("const uint32_t kz_uc_decomp_pool[] = {\n")
        for i in range(0, len(pool), 8):
            f.write("    " + ", ".join(f"0x{c:X}" for c in pool[i:i + 8]) + ",\n")
        f.write("};\n")
        f.write("const kz_uc_decomp kz_uc_decomps[] = {\n")
        for i in range(0, len(entries), 4):
            chunk = ", ".join(f"{{0x{cp:X}, {off}, {n}}}" for cp, off, n in entries[i:i + 4])
            f.write(f"    {chunk},\n")
        f.write("};\n")
        f.write(f"const size_t kz_uc_decomps_count = {len(entries)};\n\n")

        f.write("/* Runs of non-zero canonical combining class, for NFD reordering. */\n")
        f.write("const kz_uc_class_run kz_uc_combining[] = {\n")
        for i in range(0, len(ccc), 4):
            chunk = ", ".join(f"{{0x{a:X}, 0x{b:X}, {c}}}" for a, b, c in ccc[i:i + 4])
            f.write(f"    {chunk},\n")
        f.write("};\n")
        f.write(f"const size_t kz_uc_combining_count = {len(ccc)};\n")
    print(f"wrote {out_path}: control {len(control)}, punct {len(punct)}, Mn "
          f"{len(mark_nonspacing)}, lower runs {len(runs)}, decomps {len(decomp)}, "
          f"ccc runs {len(ccc)}")


if __name__ == "__main__":
    main()
