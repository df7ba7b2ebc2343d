#!/usr/bin/env python3
"""A cased WordPiece vocabulary for the Austen quality runs (issue 16), trained on Austen lines
that are NOT in a held-out split, so that nothing about the test lines leaks into the tokenizer.

The 3000-token test fixture (tests/fixtures/wordpiece/vocab_austen_cased.txt) splits most words,
names included, into short pieces ("Elizabeth" is not a token); the book of a line is told mostly
by its words and names, so the quality runs use a larger vocabulary. `kaizen data vocab` scores
merges as freq(ab)/(freq(a)freq(b)), which at 8000 tokens still lacks "the"; this script uses
Hugging Face tokenizers' WordPieceTrainer (frequency merges), as tools/make_wordpiece_fixture.py.

  python tools/make_austen_vocab.py --austen ../shared/data/austen.csv \
      --exclude-shard data/austen40/valid-00000.h5 --size 12000 --out data/vocab12k.txt \
      --write-csv data/austen_novalid.csv

--exclude-shard names a kaizen text shard (any number of times); the lines of its `text` column
are left out (read with h5dump, so no h5py is needed). Needs `tokenizers` (e.g. /work/venv).
The trainer breaks ties between equal merges in no fixed order, so a rerun gives the same tokens
in a slightly different order (other ids): the vocabulary of the 2026-12-07 runs is committed as
configs/vocab_austen12k_cased.txt (the CSV of --write-csv is reproduced exactly).
"""
import argparse
import csv
import re
import subprocess

from tokenizers import BertWordPieceTokenizer


def shard_texts(path):
    """The `text` column of a kaizen shard, as h5dump -y -w 0 prints it: one quoted string a line."""
    out = subprocess.run(["h5dump", "-d", "/text", "-y", "-w", "0", path], check=True,
                         capture_output=True, text=True).stdout
    texts = []
    for line in out.split("\n"):
        line = line.strip()
        if not line.startswith('"'):
            continue
        s = (line[:-1] if line.endswith(",") else line)[1:-1]
        texts.append(re.sub(r"\\(.)", lambda m: m.group(1), s))
    return texts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--austen", required=True)
    ap.add_argument("--exclude-shard", action="append", default=[])
    ap.add_argument("--size", type=int, default=12000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--write-csv", help="also write the lines trained on (text,book) to this CSV, "
                    "the MLM pre-training corpus of configs/jobs/austen_mlm_q.yaml")
    a = ap.parse_args()
    held_out = set()
    for p in a.exclude_shard:
        held_out.update(shard_texts(p))
    rows = list(csv.DictReader(open(a.austen, encoding="utf-8")))
    lines = [r["text"] for r in rows]
    keep = [t for t in lines if t.strip() and t not in held_out]
    if a.write_csv:
        with open(a.write_csv, "w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(r for r in rows if r["text"].strip() and r["text"] not in held_out)
    print(f"{len(lines)} lines, {len(held_out)} distinct held-out texts, training on {len(keep)}")
    tok = BertWordPieceTokenizer(lowercase=False, strip_accents=False, clean_text=True)
    tok.train_from_iterator(keep, vocab_size=a.size, min_frequency=2,
                            special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    with open(a.out, "w", encoding="utf-8") as f:
        for t, _ in vocab:
            f.write(t + "\n")
    print(f"wrote {a.out}: {len(vocab)} tokens")


if __name__ == "__main__":
    main()
