#!/usr/bin/env python3
"""Synthetic NER and extractive-QA sets over the Austen text (issue 16's quality check).

Each row is an Austen line (the filler: real prose the encoder has to read past) with a
templated sentence inserted that mentions people, places and years. The entity names are
drawn from lists filtered so that none of them occurs anywhere in austen.csv, so every
mention of one is a labelled mention. Deterministic in --seed; needs only the standard library.

  python3 tools/make_austen_ner_qa.py --austen ../shared/data/austen.csv --out DIR [--rows 6000]

writes DIR/ner.jsonl ({"tokens": [...], "ner_tags": [...]}, BIO tags PER/LOC/DATE) and
DIR/qa.jsonl ({"question", "context", "answer_start" (code points), "answer_text"}), the
formats `kaizen data import --kind text` reads (docs/DATA.md, "Token labels and answer spans").
"""
import argparse
import csv
import json
import random
import re

FIRST = ["Aldous", "Brigid", "Cosmo", "Dagny", "Evander", "Flavia", "Gideon", "Honora", "Ignatius",
         "Jocasta", "Kasimir", "Leontyne", "Mordecai", "Nerissa", "Octavian", "Perpetua", "Quintus",
         "Rosalind", "Sebastian", "Theodora", "Ulrika", "Valentin", "Wilhelmina", "Xavier",
         "Yolanda", "Zebedee", "Ambrose", "Beatrix", "Crispin", "Delphine", "Ezekiel", "Fenella"]
LAST = ["Abernethy", "Blackwood", "Crumpton", "Dalrymple", "Ellingworth", "Fairweather",
        "Grimsditch", "Hollingsworth", "Inglethorpe", "Juniper", "Kettleborough", "Lockhart",
        "Montgomerie", "Nettlefold", "Ormerod", "Pennyfeather", "Quarrington", "Rathbone",
        "Sidebottom", "Thistlewood", "Underhill", "Vavasour", "Whitlock", "Yardley"]
PLACES = ["Ashbourne", "Bridlington", "Cirencester", "Dunstable", "Evesham", "Folkestone",
          "Glastonbury", "Huddersfield", "Ilfracombe", "Kettering", "Lowestoft", "Malmesbury",
          "Northallerton", "Oswestry", "Penzance", "Ramsgate", "Shrewsbury", "Tewkesbury",
          "Uttoxeter", "Whitby", "Great Yarmouth", "Market Harborough", "Newton Abbot",
          "Stony Stratford", "Kings Lynn", "Much Wenlock"]
YEARS = [str(y) for y in range(1760, 1830)]

NER_TEMPLATES = [
    "{P} travelled to {L} with {Q} in {Y} .",
    "Letters from {L} reached {P} before the spring of {Y} .",
    "In {Y} , {P} and {Q} took a house near {L} .",
    "{P} had never liked {L} , said {Q} .",
    "It was at {L} that {P} first met {Q} .",
]
QA_FACTS = [  # (fact, [(question, answer key)])
    ("{P} lived in {L} until {Y}.", [("Where did {P} live?", "L"), ("Until when did {P} live in {L}?", "Y")]),
    ("{P} married {Q} at {L} in {Y}.", [("Whom did {P} marry?", "Q"), ("Where did {P} marry {Q}?", "L"),
                                        ("When did {P} marry {Q}?", "Y")]),
    ("{P} wrote to {Q} from {L}.", [("To whom did {P} write?", "Q"), ("From where did {P} write to {Q}?", "L")]),
]


def person(rng):
    return rng.choice(FIRST) + " " + rng.choice(LAST)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--austen", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rows", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    lines = [r["text"] for r in csv.DictReader(open(a.austen, encoding="utf-8"))]
    corpus = " ".join(lines)
    words = set(re.findall(r"[A-Za-z]+", corpus))
    for lst in (FIRST, LAST, PLACES):
        lst[:] = [n for n in lst if not any(w in words for w in n.split())]
    filler = [t for t in lines if 40 <= len(t) <= 90]
    rng = random.Random(a.seed)

    with open(f"{a.out}/ner.jsonl", "w", encoding="utf-8") as f:
        for _ in range(a.rows):
            t = rng.choice(NER_TEMPLATES)
            ents = {"P": ("PER", person(rng)), "Q": ("PER", person(rng)),
                    "L": ("LOC", rng.choice(PLACES)), "Y": ("DATE", rng.choice(YEARS))}
            toks, tags = [], []
            before = rng.random() < 0.5
            fill = rng.choice(filler).split()
            if before:
                toks += fill
                tags += ["O"] * len(fill)
            for piece in t.split():
                m = re.fullmatch(r"\{(\w)\}", piece)
                if m:
                    kind, text = ents[m.group(1)]
                    ws = text.split()
                    toks += ws
                    tags += ["B-" + kind] + ["I-" + kind] * (len(ws) - 1)
                else:
                    toks.append(piece)
                    tags.append("O")
            if not before:
                toks += fill
                tags += ["O"] * len(fill)
            f.write(json.dumps({"tokens": toks, "ner_tags": tags}, ensure_ascii=False) + "\n")

    with open(f"{a.out}/qa.jsonl", "w", encoding="utf-8") as f:
        skipped = 0
        for _ in range(a.rows):
            # two facts about two different people: the question must pick the right one.
            # Every person, place and year of a row is distinct, and a row whose answer text
            # occurs more than once in its context is dropped, so that the answer is one span a
            # reader can point at (exact match compares token positions).
            facts = rng.sample(QA_FACTS, 2)
            people = set()
            while len(people) < 4:
                people.add(person(rng))
            people = list(people)
            places, years = rng.sample(PLACES, 2), rng.sample(YEARS, 2)
            vals = [{"P": people[2 * i], "Q": people[2 * i + 1], "L": places[i], "Y": years[i]}
                    for i in range(2)]
            sents = [fa[0].format(**v) for fa, v in zip(facts, vals)]
            parts = [rng.choice(filler), sents[0], sents[1]]
            rng.shuffle(parts)
            context = " ".join(parts)
            k = rng.randrange(2)
            q, key = rng.choice(facts[k][1])
            answer = vals[k][key]
            if context.count(answer) != 1:
                skipped += 1
                continue
            start = context.index(answer)
            assert start >= context.index(sents[k])
            f.write(json.dumps({"question": q.format(**vals[k]), "context": context,
                                "answer_start": start, "answer_text": answer},
                               ensure_ascii=False) + "\n")
        print(f"qa: {a.rows - skipped} rows written, {skipped} dropped (answer text not unique)")


if __name__ == "__main__":
    main()
