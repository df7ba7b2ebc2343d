#!/usr/bin/env python3
"""Reference token labels and answer spans from Hugging Face `tokenizers`.

Writes tests/fixtures/text_labels/expected_hf.txt, which tests/test_import_labels.c
(ctest data/import_labels_hf) compares with what `kaizen data import` stores. CI does
not need this script or `tokenizers`: the output is committed.

    python3 -m venv /tmp/tl && /tmp/tl/bin/pip install tokenizers numpy
    /tmp/tl/bin/python tools/make_text_labels_fixture.py

Format, one line per imported row (rows with no words or a blank context are
skipped by the importer and here too):
    ner <ids> | <token labels>
    qa <ids> | <token type ids> | <answer start> <answer end>
Numbers are space-separated. NER: `is_split_into_words=True`, the word's label on
the first sub-token (HF's word_ids()), -100 elsewhere (`label_all_tokens=False`);
string labels are coded by their index in the sorted list of distinct labels.
QA: truncation="only_second", the answer span found as in the HF course's
question-answering chapter (offsets are code points), (0, 0) when the kept
context does not cover the whole answer or there is no answer.
"""
import json
import os

from tokenizers import BertWordPieceTokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures", "text_labels")
VOCAB = os.path.join(ROOT, "tests", "fixtures", "wordpiece", "vocab_minilm.txt")
NER_MAX_LEN = 16  # must match tests/test_import_labels.c
QA_MAX_LEN = 24


def load(name):
    with open(os.path.join(FIX, name), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def tokenizer(max_len, strategy):
    tok = BertWordPieceTokenizer(VOCAB, lowercase=True)
    tok.enable_truncation(max_length=max_len, strategy=strategy)
    tok.enable_padding(length=max_len)
    return tok


def ner_lines(name, words_key, labels_key):
    rows = load(name)
    names = sorted({l for r in rows for l in r[labels_key] if isinstance(l, str)})
    tok = tokenizer(NER_MAX_LEN, "longest_first")
    out = []
    for r in rows:
        words = r[words_key]
        if all(not w.strip() for w in words):
            continue
        enc = tok.encode(words, is_pretokenized=True)
        labels, prev = [], None
        for wid in enc.word_ids:
            if wid is None or wid == prev:
                labels.append(-100)
            else:
                lab = r[labels_key][wid]
                labels.append(-100 if lab is None else names.index(lab) if isinstance(lab, str) else lab)
            prev = wid
        out.append("ner " + " ".join(map(str, enc.ids)) + " | " + " ".join(map(str, labels)))
    return out


def first(v):
    return (v[0] if v else None) if isinstance(v, list) else v


def qa_lines(name):
    tok = tokenizer(QA_MAX_LEN, "only_second")
    out = []
    for r in load(name):
        if not r["context"].strip():
            continue
        enc = tok.encode(r["question"], r["context"])
        text, start_char = first(r["answer_text"]), first(r["answer_start"])
        seq = enc.sequence_ids
        start = end = 0
        if text:
            end_char = start_char + len(text)
            ctx = [i for i, s in enumerate(seq) if s == 1]
            c0, c1 = ctx[0], ctx[-1]
            off = enc.offsets
            if off[c0][0] <= start_char and off[c1][1] >= end_char:
                i = c0
                while i <= c1 and off[i][0] <= start_char:
                    i += 1
                start = i - 1
                i = c1
                while i >= c0 and off[i][1] >= end_char:
                    i -= 1
                end = i + 1
        types = " ".join(map(str, enc.type_ids))
        out.append("qa " + " ".join(map(str, enc.ids)) + " | " + types + f" | {start} {end}")
    return out


def main():
    lines = ner_lines("ner.jsonl", "tokens", "ner_tags")
    lines += ner_lines("ner_ints.jsonl", "tokens", "tags")
    lines += qa_lines("qa.jsonl")
    import tokenizers

    with open(os.path.join(FIX, "expected_hf.txt"), "w", encoding="utf-8") as f:
        f.write(f"# HF tokenizers {tokenizers.__version__}, tools/make_text_labels_fixture.py\n")
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
