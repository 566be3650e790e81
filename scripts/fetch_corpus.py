#!/usr/bin/env python3
"""Fetch the router-training corpus: Jane Austen's six completed novels, as shipped by Debian's r-cran-janeaustenr.

    python3 scripts/fetch_corpus.py [--out FILE.jsonl] [--words-per-doc 3000] [--deb LOCAL.deb]

The Debian package (pinned: version 1.0.0-1, sha256 below) is fetched with `apt-get download` (the ordinary client of
a registry this project may use; run `apt-get update` once first) or taken from --deb, its sha256 checked, and its
R lazy-load database (data/Rdata.rdx + Rdata.rdb: one character vector of text lines per novel) decoded with the
Python standard library alone. Each novel becomes documents of about --words-per-doc words, cut at paragraph ends
(lines of a paragraph joined by spaces, paragraphs separated by a blank line), written as JSON Lines
{"text": ..., "source": "janeaustenr/<novel>", "part": k} for `bin/moice train-routers --data`.

Default output: <moice cache>/corpora/janeausten-<words>w.jsonl, where the cache is $MOICE_HOME, else
$XDG_CACHE_HOME/moice, else ~/.cache/moice (the model cache of moice.io.download.ModelCache). Written atomically.

Provenance and licence: the texts are Project Gutenberg transcriptions of novels published 1811-1818 (public domain);
the R package janeaustenr 1.0.0 (Julia Silge, CRAN 2022-08-26) that collects them is MIT-licensed; Debian packages it
as r-cran-janeaustenr (MIT, debian/* by Andreas Tille). About 717,000 words in 6 novels.
"""
import argparse
import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import pathlib
import struct
import subprocess
import sys
import tarfile
import tempfile
import zlib

PACKAGE = "r-cran-janeaustenr"
VERSION = "1.0.0-1"
SHA256 = "df6bddf211906d1ff404f8ff662c21b34e6660e7f54a311084e749050c019c95"
DATA_DIR = "./usr/lib/R/site-library/janeaustenr/data/"
NOVELS = ["sensesensibility", "prideprejudice", "mansfieldpark", "emma", "northangerabbey", "persuasion"]


def fail(msg):
    sys.exit("fetch_corpus: " + msg)


def cache_home():
    if os.environ.get("MOICE_HOME"):
        return pathlib.Path(os.environ["MOICE_HOME"])
    if os.environ.get("XDG_CACHE_HOME"):
        return pathlib.Path(os.environ["XDG_CACHE_HOME"]) / "moice"
    return pathlib.Path.home() / ".cache" / "moice"


def download(workdir):
    cmd = ["apt-get", "download", f"{PACKAGE}={VERSION}"]
    r = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
    if r.returncode != 0:
        fail(f"{' '.join(cmd)} failed ({r.stderr.strip() or r.stdout.strip()}); run 'apt-get update' first, "
             f"or pass --deb with a copy of {PACKAGE}_{VERSION}_all.deb")
    debs = list(pathlib.Path(workdir).glob(f"{PACKAGE}_*.deb"))
    if len(debs) != 1:
        fail(f"apt-get download left {len(debs)} .deb files in {workdir}")
    return debs[0].read_bytes()


def ar_members(deb):
    """Members of a Debian package (an ar archive): name -> bytes."""
    if not deb.startswith(b"!<arch>\n"):
        fail("not a Debian package (no ar header)")
    out, pos = {}, 8
    while pos + 60 <= len(deb):
        header = deb[pos:pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        out[name] = deb[pos + 60:pos + 60 + size]
        pos += 60 + size + (size & 1)
    return out


def data_files(deb):
    members = ar_members(deb)
    name = next((n for n in members if n.startswith("data.tar")), None)
    if name is None:
        fail("the package has no data.tar member")
    with tarfile.open(fileobj=io.BytesIO(members[name]), mode="r:*") as tar:
        def read(path):
            try:
                return tar.extractfile(DATA_DIR + path).read()
            except KeyError:
                fail(f"the package has no {DATA_DIR + path}")
        return read("Rdata.rdx"), read("Rdata.rdb")


class RReader:
    """Just enough of R's XDR serialization format (version 2/3) for lists and character vectors."""

    def __init__(self, data):
        self.data, self.pos, self.refs = data, 0, []

    def int(self):
        (v,) = struct.unpack_from(">i", self.data, self.pos)
        self.pos += 4
        return v

    def length(self):
        n = self.int()
        if n == -1:
            hi, lo = self.int(), self.int()
            n = (hi << 32) + lo
        return n

    def read(self):
        if self.data[:2] != b"X\n":
            fail("R data is not in XDR serialization format")
        self.pos = 2
        version = self.int()
        self.int(), self.int()
        if version == 3:
            encoding_length = self.int()  # then the native encoding's name
            self.pos += encoding_length
        return self.item()

    def item(self):
        flags = self.int()
        kind, has_attr, has_tag = flags & 0xFF, flags & (1 << 9), flags & (1 << 10)
        if kind == 254:  # NILVALUE
            return None
        if kind == 255:  # reference to an earlier symbol
            ref = flags >> 8 or self.int()
            return self.refs[ref - 1]
        if kind == 1:  # symbol
            sym = ("symbol", self.item())
            self.refs.append(sym)
            return sym
        if kind == 2:  # pairlist: (tag, value) pairs
            attr = self.item() if has_attr else None
            tag = self.item() if has_tag else None
            head = [(tag, self.item())]
            rest = self.item()
            return head + (rest or [])
        if kind == 9:  # CHARSXP
            n = self.int()
            if n == -1:
                return None
            s = self.data[self.pos:self.pos + n]
            self.pos += n
            return s.decode("utf-8")
        if kind in (10, 13):  # logical, integer
            n = self.length()
            values = list(struct.unpack_from(f">{n}i", self.data, self.pos))
            self.pos += 4 * n
        elif kind == 14:  # double
            n = self.length()
            values = list(struct.unpack_from(f">{n}d", self.data, self.pos))
            self.pos += 8 * n
        elif kind in (16, 19):  # character vector, list
            values = [self.item() for _ in range(self.length())]
        else:
            fail(f"unsupported R object type {kind} in the package data")
        attributes = self.item() if has_attr else []
        return {"values": values, "attributes": {t[1]: v for t, v in attributes or []}}


def unpack_chunk(chunk):
    """One object of an R lazy-load database: 4-byte length, then zlib data or a type byte and data."""
    (size,) = struct.unpack_from(">I", chunk)
    kind = chunk[4:5]
    body = {b"Z": lambda: zlib.decompress(chunk[5:]), b"2": lambda: bz2.decompress(chunk[5:]),
            b"X": lambda: lzma.decompress(chunk[5:]), b"0": lambda: chunk[5:]}.get(kind, lambda: zlib.decompress(chunk[4:]))()
    if len(body) != size:
        fail(f"R data chunk: {len(body)} bytes after decompression, header says {size}")
    return RReader(body).read()


def novels(rdx, rdb):
    index = RReader(gzip.decompress(rdx)).read()
    variables = dict(zip(index["attributes"]["names"]["values"], index["values"]))["variables"]
    where = dict(zip(variables["attributes"]["names"]["values"], (v["values"] for v in variables["values"])))
    for name in NOVELS:
        if name not in where:
            fail(f"the package data has no object '{name}' (found {sorted(where)})")
        offset, length = where[name]
        lines = unpack_chunk(rdb[offset:offset + length])["values"]
        yield name, [line or "" for line in lines]


def paragraphs(lines):
    para = []
    for line in lines + [""]:
        if line.strip():
            para.append(line.strip())
        elif para:
            yield " ".join(para)
            para = []


def documents(lines, words_per_doc):
    doc, words = [], 0
    for p in paragraphs(lines):
        doc.append(p)
        words += len(p.split())
        if words >= words_per_doc:
            yield "\n\n".join(doc)
            doc, words = [], 0
    if doc:
        yield "\n\n".join(doc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=pathlib.Path, help="output .jsonl (default: in the moice cache)")
    ap.add_argument("--words-per-doc", type=int, default=3000, help="words per document (default 3000)")
    ap.add_argument("--deb", type=pathlib.Path, help=f"use this {PACKAGE}_{VERSION}_all.deb instead of apt-get download")
    args = ap.parse_args()
    if args.words_per_doc < 1:
        fail("--words-per-doc must be positive")
    out = args.out or cache_home() / "corpora" / f"janeausten-{args.words_per_doc}w.jsonl"

    if args.deb:
        deb = args.deb.read_bytes()
    else:
        with tempfile.TemporaryDirectory() as tmp:
            os.chmod(tmp, 0o755)  # apt drops privileges to _apt when it can read the folder
            deb = download(tmp)
    digest = hashlib.sha256(deb).hexdigest()
    if digest != SHA256:
        fail(f"{PACKAGE} {VERSION}: sha256 {digest}, expected {SHA256}")

    rdx, rdb = data_files(deb)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = out.with_name(out.name + ".tmp")
    count = total_words = 0
    with open(tmp_out, "w", encoding="utf-8") as f:
        for name, lines in novels(rdx, rdb):
            for part, text in enumerate(documents(lines, args.words_per_doc)):
                f.write(json.dumps({"text": text, "source": "janeaustenr/" + name, "part": part},
                                   ensure_ascii=False) + "\n")
                count += 1
                total_words += len(text.split())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp_out, out)
    print(f"{out}: {count} documents, {total_words} words from {PACKAGE} {VERSION} (sha256 {digest[:12]}...)")


if __name__ == "__main__":
    main()
