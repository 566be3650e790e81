#!/usr/bin/env python3
"""Builds the tokenizer fixtures under cli/src/test/resources/tokenizers/ (run by hand, never at test time).

Trains tiny BPE tokenizers with the Hugging Face `tokenizers` library, one per tokenizer.json style that moice
supports, and records what HF `Tokenizer.encode(text).ids` (add_special_tokens=True) and `Tokenizer.decode` give:

  bytelevel_smollm/  SmolLM/GPT-2 style: Digits(individual) + ByteLevel(use_regex) pre-tokenizer, ByteLevel decoder,
                     <|endoftext|> <|im_start|> <|im_end|>, plus added tokens with single_word / lstrip / rstrip.
  spm_llama2/        Llama-2 style: Prepend("▁") + Replace(" ", "▁") normalizer, no pre-tokenizer, byte_fallback with
                     all 256 <0xNN> tokens, <unk> <s> </s>, TemplateProcessing "<s> $A", Replace/ByteFallback/Fuse/Strip
                     decoder, plus a normalized added token.
  bytelevel_llama3/  Llama-3 style: Split(Llama-3 regex) + ByteLevel(use_regex=false), ignore_merges, TemplateProcessing
                     "<|begin_of_text|> $A", reserved special tokens.
  bytelevel_qwen2/   Qwen2 style: NFC normalizer, Split(Qwen2 regex), post-processor Sequence[ByteLevel, Template "$A
                     <|endoftext|>"].
  spm_metaspace/     Newer SentencePiece style (legacy=false): Metaspace(prepend_scheme=first, split=false), byte
                     fallback, Template "<s> $A </s>", ByteFallback + Metaspace decoder.
  misc_bpe/          Other supported pieces: NFKC + Lowercase + Strip normalizer, Whitespace/Punctuation pre-tokenizers,
                     continuing_subword_prefix "##", end_of_word_suffix "</w>", BPEDecoder, BertProcessing.

Each directory gets tokenizer.json, expected.json (probe strings -> ids with and without special tokens, decodes;
random id lists -> decodes) and random_expected.json.gz (ids of the 3012 seeded random strings in
random_strings.json.gz). Besides:
  components.json.gz  single pre-tokenizers / normalizers (regex translation, split behaviors) on ~280 texts
  spm_scores.json     a SentencePiece BPE model's pieces and scores, and the merges transformers derives from them

Usage: /work/refvenv/bin/python scripts/reference/make_tokenizers.py [--components-only]
(needs tokenizers, transformers, sentencepiece; --components-only rewrites just the last two files)
"""
import gzip
import json
import os
import random
import sys

import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "cli", "src", "test", "resources", "tokenizers")

GPT2_LIKE = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3 = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
          r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")
QWEN2 = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
         r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")

CORPUS = """
The quick brown fox jumps over the lazy dog. I'm sure we'll see THEY'RE right; she's done what you've said, I'd say.
It's 2024-05-17 and the temperature is 23.5°C; the invoice #1234567 totals $89,99 (VAT 20%). Call +1 (555) 010-9999.
Once upon a time, in a land far, far away, there lived a programmer who wrote tokenizers in Java and Rust.
    def encode(self, text: str) -> list[int]:
        return [self.vocab[t] for t in self.split(text) if t in self.vocab]  # TODO: handle <unk>
    for (int i = 0; i < n; i++) { sum += a[i] * b[i]; }
<html><body class="main">Hello &amp; welcome!</body></html>
{"name": "moice", "version": "0.1.0", "tags": ["llm", "java"], "ok": true, "n": 42}
Le cœur a ses raisons que la raison ne connaît point. Ça va? Déjà vu, naïve café, l'été où j'étais là-bas.
Der schnelle braune Fuchs springt über den faulen Hund. Straße, Größe, Übermäßig, Fußgängerübergänge.
El niño comió una manzana. ¿Dónde está la biblioteca? ¡Qué día tan bonito! Mañana será otro día.
Быстрая коричневая лиса прыгает через ленивую собаку. Привет, как дела? Всё хорошо, спасибо.
Η γρήγορη καφέ αλεπού πηδάει πάνω από το τεμπέλικο σκυλί. Καλημέρα σας, τι κάνετε; ΣΟΦΙΑ σοφός.
敏捷的棕色狐狸跳过了懒狗。我们今天去公园散步吧。机器学习和自然语言处理是人工智能的重要领域。
素早い茶色の狐が怠け者の犬を飛び越える。こんにちは、世界！カタカナとひらがなと漢字を使います。
빠른 갈색 여우가 게으른 개를 뛰어넘습니다. 안녕하세요, 만나서 반갑습니다. 한국어 문장입니다.
الثعلب البني السريع يقفز فوق الكلب الكسول. مرحبا بالعالم، كيف حالك اليوم؟ ١٢٣ ٤٥٦
השועל החום המהיר קופץ מעל הכלב העצלן. שלום עולם, מה שלומך?
तेज़ भूरी लोमड़ी आलसी कुत्ते के ऊपर कूदती है। नमस्ते दुनिया, आप कैसे हैं?
สุนัขจิ้งจอกสีน้ำตาลกระโดดข้ามสุนัขขี้เกียจ สวัสดีชาวโลก
Emoji time: 😀😃😄 👍🏽 👩‍👩‍👧 🇫🇷🇯🇵 ❤️ 🎉🎉 ✨ 🤖 — tokens… “quotes” ‘single’ «guillemets» ½ ² Ⅻ
Numbers: 0 1 12 123 1234 12345 123456 1234567 3.14159 2,718 1e-9 0xFF 0b1010 ２０２４年
Tabs\tand\tspaces   and
newlines

and CRLF\r\nlines\r\n   trailing spaces   
Mixed: HelloWorld helloWorld HELLO_WORLD hello-world hello.world hello/world hello\\world @user #tag
"""


def training_lines():
    rnd = random.Random(7)
    lines = [l for l in CORPUS.split("\n") if l.strip()]
    out = []
    for _ in range(40):
        out.extend(lines)
    words = " ".join(lines).split()
    for _ in range(1500):
        k = rnd.randint(3, 14)
        out.append(" ".join(rnd.choice(words) for _ in range(k)) + rnd.choice([".", ",", "!", "?", "", " 42", "\n"]))
    for _ in range(300):
        out.append(" ".join(str(rnd.randint(0, 10 ** rnd.randint(1, 7))) for _ in range(rnd.randint(1, 6))))
    return out


# ---------------------------------------------------------------- tokenizers

def byte_level_trainer(vocab_size, specials):
    return trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                               initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), min_frequency=2)


def make_bytelevel_smollm():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)])
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    tok.post_processor = processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True)
    tok.train_from_iterator(training_lines(), byte_level_trainer(1500, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]))
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=False, special=True, normalized=False)])
    tok.add_tokens([AddedToken("foo_bar", single_word=True, normalized=False),
                    AddedToken("[SEP]", rstrip=True, normalized=False),
                    AddedToken("<|im", normalized=False)])  # a prefix of other added tokens: longest match must win
    return tok


def spm_vocab_and_merges(vocab_size, limit_alphabet):
    """Trains a SentencePiece-like BPE (words start with ▁) and returns (vocab, merges) laid out like Llama-2:
    <unk> <s> </s>, the 256 <0xNN> byte tokens, then the learned pieces."""
    t = Tokenizer(models.BPE())
    t.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    t.train_from_iterator(training_lines(), trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                                                 limit_alphabet=limit_alphabet, min_frequency=2))
    learned = json.loads(t.to_str())["model"]
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab["<0x%02X>" % b] = len(vocab)
    for piece, _ in sorted(learned["vocab"].items(), key=lambda kv: kv[1]):
        if piece not in vocab:
            vocab[piece] = len(vocab)
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in learned["merges"]]
    return vocab, merges


def make_spm_llama2():
    vocab, merges = spm_vocab_and_merges(1200, 120)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(content=" ", left=1, right=0)])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ["<unk>", "<s>", "</s>"]])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                       special_tokens=[("<s>", vocab["<s>"])])
    # normalized=True: matched against the normalized text ("▁hello▁world"), decoded in normalized form
    tok.add_tokens([AddedToken("hello world", normalized=True)])
    return tok


def make_bytelevel_llama3():
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                "<|reserved_special_token_1|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel(add_prefix_space=True, trim_offsets=True, use_regex=True)
    tok.train_from_iterator(training_lines(), byte_level_trainer(1800, []))
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    bos = tok.token_to_id("<|begin_of_text|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=True, trim_offsets=False, use_regex=True),
        processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                      pair="<|begin_of_text|> $A <|begin_of_text|>:1 $B:1",
                                      special_tokens=[("<|begin_of_text|>", bos)])])
    return tok


def make_bytelevel_qwen2():
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    tok.train_from_iterator(training_lines(), byte_level_trainer(1400, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]))
    eot = tok.token_to_id("<|endoftext|>")
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        processors.TemplateProcessing(single="$A <|endoftext|>", pair="$A <|endoftext|> $B:1 <|endoftext|>:1",
                                      special_tokens=[("<|endoftext|>", eot)])])
    return tok


def make_spm_metaspace():
    vocab, merges = spm_vocab_and_merges(1000, 100)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), decoders.Metaspace(replacement="▁", prepend_scheme="first")])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in ["<unk>", "<s>", "</s>"]])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> $B:1 </s>:1",
        special_tokens=[("<s>", vocab["<s>"]), ("</s>", vocab["</s>"])])
    tok.add_special_tokens([AddedToken("[INST]", special=True, normalized=False, lstrip=True, rstrip=True)])
    return tok


def make_misc_bpe():
    tok = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Strip()])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Whitespace(),
                                                 pre_tokenizers.Punctuation(behavior="isolated")])
    tok.decoder = decoders.BPEDecoder(suffix="</w>")
    trainer = trainers.BpeTrainer(vocab_size=900, special_tokens=["[UNK]", "[CLS]", "[SEP]"], show_progress=False,
                                  limit_alphabet=90, continuing_subword_prefix="##", end_of_word_suffix="</w>")
    tok.train_from_iterator(training_lines(), trainer)
    tok.post_processor = processors.BertProcessing(("[SEP]", tok.token_to_id("[SEP]")),
                                                   ("[CLS]", tok.token_to_id("[CLS]")))
    return tok


# ---------------------------------------------------------------- probe and random strings

PROBES = [
    "", " ", "  ", "\n", "\t", "Hello world", "Hello, world!", " Hello", "Hello ", "  leading and trailing  ",
    "I'm we'll THEY'RE you've she'd it's I'M We'Ll", "don't can't won't", "1234567", "3.14159 and 2,718,281",
    "a1b22c333d4444", "١٢٣٤ ٥٦ ２０２４ ½ ² Ⅻ", "tabs\tand\t\tmore", "line1\nline2\n\nline4", "crlf\r\nline\r\n",
    "nbsp\u00a0here", "ls\u2028ps\u2029", "ideo\u3000space", "nel\u0085x", "thin\u2009space", "zwsp\u200bx",
    "vt\x0bff\x0c", "ogham\u1680x\u202fy\u205fz", "     many spaces before", "end with spaces     ",
    "\n\n\n", " \n \n ", "\r\r\n\n", "Ünïcödé çàfé", "e\u0301 vs \u00e9", "A\u030a\u0323", "naïve café",
    "日本語のテキストです。", "中文测试，标点符号！", "한국어 테스트", "Русский текст", "Ελληνικά ΣΟΦΟΣ", "עברית",
    "العربية", "हिन्दी भाषा", "ภาษาไทย", "emoji 😀 and 👍🏽", "family 👩‍👩‍👧 zwj", "flags 🇫🇷🇯🇵", "heart ❤️ vs ❤",
    "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n", "<|endoftext|>", "text<|endoftext|>more",
    "<s>[INST] Hi [/INST]", "<s> spaced </s>", "</s><s>", "<unk>", "<|begin_of_text|>Hi<|eot_id|>",
    "<|im", "<|im_start", "partial <|im_end", "x <mask> y", "x   <mask>y", "<mask>", "foo_bar and foo_bar! xfoo_bar foo_barx",
    "a [SEP]   b", "say hello world now", "hello world", "Hello World", "  [INST]  inside  [INST]",
    "def f(x):\n    return x * 2  # comment\n", "if (a && b) { return c; }", "https://example.com/path?q=1&r=2",
    "user@example.com", "C:\\Windows\\System32", "$$$ !!! ??? ...", "—–-", "…", "“smart quotes”", "'s 't 're",
    "'''", "''s", "ſ K İ ß ẞ", "\u0000\u0001\u007f", "\ufeffbom", "\ue000private", "\ufffdreplacement",
    "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝟙𝟚𝟛", "a" * 300, "ab" * 200, "1" * 50, " " * 40 + "x", "\t" * 10, "Hello" + " " * 16 + "world",
    "The quick brown fox jumps over the lazy dog. " * 5,
]

WHITESPACE = [" ", "  ", "   ", "\t", "\n", "\r\n", "\r", "\n\n", "\u00a0", "\u2028", "\u3000", "\u0085", "\u2009",
              "\u200b", "\x0b", "\x0c", "\u1680", "\u202f", " \n", "\t ", "    "]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["…", "—", "«", "»", "¿", "¡", "“", "”", "’", "·", "§", "©", "€",
                                                       "£", "°", "±", "×", "÷", "→", "∑", "√", "∞"]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'Ll", "’s", "n't"]
SPECIAL_BITS = ["<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>", "<unk>", "<|begin_of_text|>",
                "<|eot_id|>", "<|im", "<s", "</", "<|", "|>", "<mask>", "foo_bar", "[SEP]", "[INST]", "hello world",
                "<0x41>", "▁", "Ġ", "##", "</w>", "[UNK]", "[CLS]"]
EMOJI = ["😀", "👍", "👍🏽", "👩‍👩‍👧", "👨‍💻", "🇫🇷", "🇯🇵", "❤️", "❤", "✨", "🤖", "🎉", "🏳️‍🌈", "☕", "🙂"]
COMBINING = ["e\u0301", "a\u0308", "o\u0302", "n\u0303", "A\u030a", "c\u0327", "\u0915\u094d\u0937", "\u0628\u064e",
             "\u05e9\u05c1", "\u0e01\u0e34", "\u1100\u1161\u11a8", "x\u0336", "\u0301"]
DIGITS_EXTRA = ["١٢٣", "٤", "２０", "½", "²", "Ⅻ", "۵", "߃", "๓"]
WORDS = ("the quick brown fox jumps over lazy dog hello world tokenizer java rust model llama mistral qwen smol "
         "encode decode byte level merge rank vocab café naïve über straße niño привет мир καλημέρα").split()


def rand_piece(rnd):
    kind = rnd.random()
    if kind < 0.22:
        w = rnd.choice(WORDS)
        r = rnd.random()
        return w.upper() if r < 0.1 else (w.capitalize() if r < 0.3 else w)
    if kind < 0.30:
        return "".join(rnd.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rnd.randint(1, 12)))
    if kind < 0.44:
        return rnd.choice(WHITESPACE) * rnd.choice([1, 1, 1, 2, 3])
    if kind < 0.52:
        return str(rnd.randint(0, 10 ** rnd.randint(1, 9)))
    if kind < 0.54:
        return rnd.choice(DIGITS_EXTRA)
    if kind < 0.62:
        return "".join(rnd.choice(PUNCT) for _ in range(rnd.randint(1, 3)))
    if kind < 0.65:
        return rnd.choice(CONTRACTIONS)
    if kind < 0.71:
        block = rnd.choice([(0x4E00, 0x9FA5), (0x3041, 0x3096), (0x30A1, 0x30FA), (0xAC00, 0xD7A3), (0x0410, 0x044F),
                            (0x0391, 0x03C9), (0x05D0, 0x05EA), (0x0627, 0x064A), (0x0905, 0x0939), (0x0E01, 0x0E2E),
                            (0x00C0, 0x00FF), (0x0100, 0x017F)])
        return "".join(chr(rnd.randint(*block)) for _ in range(rnd.randint(1, 6)))
    if kind < 0.76:
        return rnd.choice(EMOJI)
    if kind < 0.81:
        return rnd.choice(COMBINING)
    if kind < 0.89:
        return rnd.choice(SPECIAL_BITS)
    if kind < 0.91:
        return chr(rnd.choice([0, 1, 0x1f, 0x7f, 0xad, 0xfeff, 0xfffd, 0xe000, 0x1d518, 0x1f600, 0x2060, 0x200d,
                               0x17f, 0x212a, 0x130, 0xdf, 0x1e9e, 0x3a3]))
    if kind < 0.95:
        return rnd.choice(CORPUS.split("\n") or [""])[: rnd.randint(0, 60)]
    return "".join(chr(rnd.randint(0x20, 0x7e)) for _ in range(rnd.randint(1, 8)))


def random_strings(n, seed):
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        k = rnd.choice([1, 1, 2, 3, 4, 5, 6, 8, 10, 14, 20, 30])
        out.append("".join(rand_piece(rnd) for _ in range(k)))
    for i in range(12):  # a few long ones (several KB) to exercise long pieces and the word cache
        out.append("".join(rand_piece(rnd) for _ in range(rnd.randint(300, 900))))
    return out


def random_id_lists(tok, n, seed):
    rnd = random.Random(seed)
    size = tok.get_vocab_size(with_added_tokens=True)
    return [[rnd.randrange(size) for _ in range(rnd.randint(1, 12))] for _ in range(n)]


# ---------------------------------------------------------------- output

def write_gzip_json(path, value):
    data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0) as f:
        f.write(data)  # mtime=0: same input, same bytes


def write_fixture(name, tok, randoms):
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    tok.save(os.path.join(d, "tokenizer.json"), pretty=False)
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))  # exactly what the Java side will read

    def case(text):
        ids = tok.encode(text).ids
        return {"text": text, "ids": ids, "ids_no_special": tok.encode(text, add_special_tokens=False).ids,
                "decoded": tok.decode(ids, skip_special_tokens=False),
                "decoded_skip_special": tok.decode(ids, skip_special_tokens=True)}

    decode_cases = [{"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=False),
                     "decoded_skip_special": tok.decode(ids, skip_special_tokens=True)}
                    for ids in random_id_lists(tok, 400, 11)]
    expected = {"tokenizers_version": tokenizers.__version__,
                "vocab_size_with_added": tok.get_vocab_size(with_added_tokens=True),
                "probes": [case(t) for t in PROBES],
                "decode_cases": decode_cases}
    with open(os.path.join(d, "expected.json"), "w", encoding="utf-8") as f:  # one case per line: diffable
        f.write("{\n")
        for key in ["tokenizers_version", "vocab_size_with_added"]:
            f.write(f"{json.dumps(key)}: {json.dumps(expected[key])},\n")
        for key in ["probes", "decode_cases"]:
            f.write(f"{json.dumps(key)}: [\n")
            f.write(",\n".join(json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in expected[key]))
            f.write("\n]" + ("," if key == "probes" else "") + "\n")
        f.write("}\n")
    rows = []
    for i, t in enumerate(randoms):
        ids = tok.encode(t).ids
        # To keep this small: decode (skip_special_tokens=True) only for the first 1000 strings, and null where it
        # gives the input back.
        decoded = tok.decode(ids, skip_special_tokens=True) if i < 1000 else t
        rows.append([ids, None if decoded == t else decoded])
    write_gzip_json(os.path.join(d, "random_expected.json.gz"), {"tokenizers_version": tokenizers.__version__,
                                                                  "decoded_rows": 1000, "rows": rows})
    n_tok = sum(len(r[0]) for r in rows)
    print(f"{name}: vocab {tok.get_vocab_size()} probes {len(PROBES)} random {len(randoms)} ({n_tok} ids)")


def component_cases(randoms):
    """Single pre-tokenizers and normalizers (as JSON) with HF's output on many texts: checks the regex translation
    and every split behavior one at a time, apart from any trained vocabulary."""
    P, N = pre_tokenizers, normalizers
    regexes = [GPT2_LIKE, LLAMA3, QWEN2,
               r"""[\r\n]|\s?[A-Za-z\u00C0-\u00FF]+|\s?\p{P}+|\s?[\p{S}\p{M}]+|[一-龥ࠀ-一가-퟿]+|\p{N}""",
               r"\w+", r"[\w]+", r"\W", r"\d+|\D", r"\h+", r"(?i:ab|ſ|k)", r"[[:alpha:]]+", r"[[:punct:]]",
               r"[[:space:]]+", r"\p{^L}+", r"\P{N}+", r"\p{Han}+", r"\p{Hiragana}|\p{Katakana}", r"\p{Letter}+",
               r"\p{Lu}\p{Ll}*", r"x{,2}", r"a{", r"^.", r".$", r"(?m).", r"[]x]", r"\v", r"(?#c)a", r"\s+(?!\S)",
               r" ?[^\s\p{L}\p{N}]++", r"(?<=\p{L})\p{N}", r"\p{Emoji}", r"[^\p{L}\p{N}\s]+", r"\R"]
    pretoks = []
    for r in regexes:
        pretoks.append(P.Split(Regex(r), behavior="isolated", invert=False))
    for behavior in ["removed", "isolated", "merged_with_previous", "merged_with_next", "contiguous"]:
        for invert in [False, True]:
            pretoks.append(P.Split(Regex(r"\s"), behavior=behavior, invert=invert))
            pretoks.append(P.Split(" ", behavior=behavior, invert=invert))
        pretoks.append(P.Punctuation(behavior=behavior))
    pretoks += [P.ByteLevel(add_prefix_space=True, use_regex=True), P.ByteLevel(add_prefix_space=False, use_regex=False),
                P.Digits(individual_digits=True), P.Digits(individual_digits=False), P.Whitespace(),
                P.WhitespaceSplit(), P.BertPreTokenizer(), P.CharDelimiterSplit("-"),
                P.Sequence([P.Split(Regex(LLAMA3), "isolated"), P.Digits(True), P.ByteLevel(False, use_regex=False)])]
    for scheme in ["always", "first", "never"]:
        for split in [True, False]:
            pretoks.append(P.Metaspace(replacement="▁", prepend_scheme=scheme, split=split))
    norms = [N.NFC(), N.NFD(), N.NFKC(), N.NFKD(), N.Lowercase(), N.Strip(), N.Strip(left=True, right=False),
             N.Sequence([N.NFD(), N.StripAccents()]), N.Prepend("▁"), N.Replace(" ", "▁"),
             N.Replace(Regex(r"\s+"), " "), N.Sequence([N.Prepend("▁"), N.Replace(" ", "▁")]), N.ByteLevel()]
    texts = [t for t in PROBES if len(t) < 200] + [t for t in randoms[:200] if len(t) < 120]

    def as_json(step, field):
        t = Tokenizer(models.BPE())
        setattr(t, field, step)
        return json.loads(t.to_str())[field]

    cases = []
    for pt in pretoks:
        cases.append({"pre_tokenizer": as_json(pt, "pre_tokenizer"),
                      "outputs": [[piece for piece, _ in pt.pre_tokenize_str(t)] for t in texts]})
    for n in norms:
        cases.append({"normalizer": as_json(n, "normalizer"), "outputs": [n.normalize_str(t) for t in texts]})
    out = {"tokenizers_version": tokenizers.__version__, "texts": texts, "cases": cases}
    write_gzip_json(os.path.join(ROOT, "components.json.gz"), out)
    print(f"components: {len(pretoks)} pre-tokenizers, {len(norms)} normalizers, {len(texts)} texts")


def spm_scores_case():
    """A SentencePiece BPE model (tokens with scores, as a GGUF llama vocabulary holds them) and the merges that
    transformers derives from it (tokenization_utils_base.generate_merges, used when it loads such a GGUF)."""
    import tempfile
    import sentencepiece as spm
    from transformers.tokenization_utils_base import generate_merges
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.txt")
        with open(corpus, "w", encoding="utf-8") as f:
            f.write("\n".join(training_lines()))
        spm.SentencePieceTrainer.train(input=corpus, model_prefix=os.path.join(tmp, "m"), vocab_size=1200,
                                       model_type="bpe", byte_fallback=True, character_coverage=0.98,
                                       num_threads=1, minloglevel=2)
        sp = spm.SentencePieceProcessor(model_file=os.path.join(tmp, "m.model"))
    tokens = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
    scores = [sp.get_score(i) for i in range(sp.get_piece_size())]
    merges = generate_merges({t: i for i, t in enumerate(tokens)}, dict(zip(tokens, scores)))
    out = {"sentencepiece_version": spm.__version__, "tokens": tokens, "scores": scores,
           "merges": [list(m) for m in merges]}
    with open(os.path.join(ROOT, "spm_scores.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
    print(f"spm_scores: {len(tokens)} tokens, {len(merges)} merges")


def main():
    # Note: the BPE trainer breaks ties between equally frequent pairs in hash order, so a rerun may learn slightly
    # different vocabularies; every file is rewritten together and is self-consistent.
    randoms = random_strings(3000, 20240517)
    os.makedirs(ROOT, exist_ok=True)
    write_gzip_json(os.path.join(ROOT, "random_strings.json.gz"),
                    {"seed": 20240517, "tokenizers_version": tokenizers.__version__, "strings": randoms})
    component_cases(randoms)
    spm_scores_case()
    if "--components-only" in sys.argv:
        return
    for name, make in [("bytelevel_smollm", make_bytelevel_smollm), ("spm_llama2", make_spm_llama2),
                       ("bytelevel_llama3", make_bytelevel_llama3), ("bytelevel_qwen2", make_bytelevel_qwen2),
                       ("spm_metaspace", make_spm_metaspace), ("misc_bpe", make_misc_bpe)]:
        write_fixture(name, make(), randoms)
    print("tokenizers", tokenizers.__version__, file=sys.stderr)


if __name__ == "__main__":
    main()
