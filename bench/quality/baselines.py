"""The Python baselines dedupd is compared with (docs/quality.md, docs/benchmarks.md):
a MinHash LSH pipeline (datasketch) and a SimHash pipeline (the `simhash`
package), both fed the same messages in the same order, with the same
tokenisation, and turned into dedupd's five verdicts by the same per-URL
logic (`Stream`), so that only the similarity engine differs between them.

   from baselines import prepare, MinHashEngine, SimHashEngine, Stream
   msgs = prepare(messages, engines=("minhash", "simhash"))
   verdicts = Stream(MinHashEngine(threshold=0.5)).run(msgs)  # [(verdict, match_url), ...]

What a typical Python pipeline does, and so what these do:
  * HTML: a naive tag strip: comments and <head>, <script>, <style> blocks
    dropped, every other tag replaced by a line break, entities unescaped.
    Navigation and footer text stays (a naive strip cannot tell chrome from
    content).
  * exact identity: NFKC, all whitespace removed (the corpus's content key
    rule, the same one dedupd uses), hashed with BLAKE2b.
  * shingles: NFKC + lower case; zh (CJK share of letters >= 20%): character
    4-grams of the text with whitespace removed; otherwise word 3-grams of
    \\w+ words. The corpus labels' own similarity uses the same shingles.
  * MinHash: datasketch MinHash(num_perm=128) over the shingle set,
    MinHashLSH(threshold, num_perm=128) for candidates (its documented usage),
    each candidate confirmed by the MinHash Jaccard estimate >= threshold.
  * SimHash: simhash.Simhash over the shingles weighted by count (what the
    package does when it tokenises text itself), SimhashIndex(k) for
    candidates, as its README shows.

Per-URL logic (Stream), the same for both engines:
  URL seen before:  same key -> UNCHANGED (match: the URL), else REVISED;
  new URL:          key held by another URL's current version -> DUPLICATE of
                    the first such URL; else the engine's best candidate
                    among other URLs' current versions -> NEAR_DUPLICATE;
                    else NEW.
  The best candidate is the most similar, ties to the earliest-seen URL."""
import collections
import hashlib
import html
import re
import unicodedata

COMMENT = re.compile(r"<!--.*?-->", re.S)
DROP = re.compile(r"<(head|script|style)\b.*?</\1\s*>", re.S | re.I)
DROP_CHROME = re.compile(r"<(head|script|style|nav|footer|header|aside)\b.*?</\1\s*>", re.S | re.I)
TAG = re.compile(r"<[^>]*>")
WS = re.compile(r"\s+")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
WORD = re.compile(r"\w+")


def is_html(msg):
    ct = (msg.get("content_type") or "").lower()
    if ct:
        return "html" in ct
    head = msg["body"].lstrip()[:1024].lower()
    return head.startswith("<") and ("<html" in head or "<!doctype html" in head or "<p" in head)


def naive_text(msg, strip="naive"):
    """strip="naive": the brief's naive tag strip; "chrome": also drops <nav>,
    <footer>, <header>, <aside> (what the corpus labeller and dedupd leave out),
    to separate the engine's effect from the extraction's."""
    body = msg["body"]
    if not is_html(msg):
        return body
    body = COMMENT.sub(" ", body)
    body = (DROP_CHROME if strip == "chrome" else DROP).sub(" ", body)
    body = TAG.sub("\n", body)
    return html.unescape(body)


def content_key(text):
    return hashlib.blake2b(WS.sub("", unicodedata.normalize("NFKC", text)).encode(), digest_size=16).digest()


def language(text):
    sample = text[:4000]
    cjk = len(CJK.findall(sample))
    letters = sum(1 for c in sample if c.isalpha())
    return "zh" if letters and cjk / letters >= 0.2 else "en"


def shingle_list(text, lang):
    """All shingles in order (with repeats), for counts; a set is set(shingle_list)."""
    t = unicodedata.normalize("NFKC", text).lower()
    if lang == "zh":
        s = WS.sub("", t)
        return [s[i:i + 4] for i in range(max(len(s) - 3, 1))] if s else []
    words = WORD.findall(t)
    if len(words) < 3:
        return [" ".join(words)] if words else []
    return [" ".join(words[i:i + 3]) for i in range(len(words) - 2)]


def minhash_of(shingles, num_perm=128):
    from datasketch import MinHash
    m = MinHash(num_perm=num_perm)
    m.update_batch([s.encode() for s in set(shingles)])
    return m


def simhash_of(shingles):
    from simhash import Simhash
    return Simhash(collections.Counter(shingles))


class Prepared:
    __slots__ = ("url", "key", "minhash", "simhash")


def prepare(messages, engines=("minhash", "simhash"), strip="naive"):
    """Fingerprints every message once (the engines' sweeps reuse them)."""
    out = []
    for msg in messages:
        text = naive_text(msg, strip)
        p = Prepared()
        p.url = msg["url"]
        p.key = content_key(text)
        sh = shingle_list(text, language(text))
        p.minhash = minhash_of(sh) if "minhash" in engines else None
        p.simhash = simhash_of(sh) if "simhash" in engines else None
        out.append(p)
    return out


class MinHashEngine:
    name = "datasketch MinHash LSH"

    def __init__(self, threshold=0.5, num_perm=128):
        from datasketch import MinHashLSH
        self.threshold = threshold
        self.lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self.sigs = {}

    def setting(self):
        return f"threshold={self.threshold:g}"

    def query(self, p, exclude):
        out = []
        for key in self.lsh.query(p.minhash):
            if key == exclude:
                continue
            j = p.minhash.jaccard(self.sigs[key])
            if j >= self.threshold:
                out.append((j, key))
        return out

    def insert(self, url, p):
        self.lsh.insert(url, p.minhash)
        self.sigs[url] = p.minhash

    def remove(self, url):
        self.lsh.remove(url)
        del self.sigs[url]


class SimHashEngine:
    name = "simhash SimhashIndex"

    def __init__(self, k=3):
        import logging
        from simhash import SimhashIndex
        logging.getLogger("simhash").setLevel(logging.ERROR)  # "big bucket" warnings at large k
        self.k = k
        self.index = SimhashIndex([], k=k)
        self.sigs = {}

    def setting(self):
        return f"k={self.k}"

    def query(self, p, exclude):
        return [(-p.simhash.distance(self.sigs[u]), u) for u in self.index.get_near_dups(p.simhash) if u != exclude]

    def insert(self, url, p):
        self.index.add(url, p.simhash)
        self.sigs[url] = p.simhash

    def remove(self, url):
        self.index.delete(url, self.sigs.pop(url))


class Stream:
    """The per-URL verdict logic, identical for every engine."""

    def __init__(self, engine):
        self.engine = engine
        self.last_key = {}                          # url -> key of its current version
        self.holders = collections.defaultdict(list)  # key -> urls whose current version has it
        self.seen_order = {}                        # url -> first-seen position (ties)

    def process(self, p):
        url = p.url
        prev = self.last_key.get(url)
        if prev is not None:
            if prev == p.key:
                return "UNCHANGED", url
            self.holders[prev].remove(url)
            self.engine.remove(url)
            verdict, match = "REVISED", url
        else:
            self.seen_order[url] = len(self.seen_order)
            holders = self.holders.get(p.key)
            if holders:
                verdict, match = "DUPLICATE", holders[0]
            else:
                cands = self.engine.query(p, url)
                if cands:
                    best = max(cands, key=lambda c: (c[0], -self.seen_order[c[1]]))
                    verdict, match = "NEAR_DUPLICATE", best[1]
                else:
                    verdict, match = "NEW", None
        self.last_key[url] = p.key
        self.holders[p.key].append(url)
        self.engine.insert(url, p)
        return verdict, match

    def run(self, prepared):
        return [self.process(p) for p in prepared]
