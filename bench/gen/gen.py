#!/usr/bin/env python3
"""Scaled-up page streams for dedupd's speed and scaling runs, reproducible from a seed.

   bench/gen/gen.py --pages 100000 --lang zh --page-bytes 5000 --seed 1 \
       --out pages.jsonl [--expected expected.jsonl]

The text comes from the labelled corpus (tests/data/corpus): the plain-text
first sightings (`label: new`) of its real articles, split into paragraphs and
sentences. A generated "new" page is NOT a new real article: it is a
recombination of runs of consecutive real paragraphs from several corpus
articles of one language, and every sentence in it carries one random
substitution (one CJK character, or one English word, replaced by another
drawn from the corpus's own frequency table). The substitution exists because
a pool of ~500 articles recombined into 100,000 pages repeats each sentence
hundreds of times verbatim, which no real stream does and which would flood
dedupd's passage index with candidates; with it, generated pages share their
4-grams with other pages about as much as unrelated real articles do, but no
whole sentence. So the scaled-up stream is realistic in its *byte statistics
and scenario mix*, not in its text: use it for speed, never for precision or
recall (those come from the real corpus only, bench/quality/).

Scenarios (weights: --mix), each message with the verdict it is designed to get:

  new            NEW             a recombined page on a generated site (half the
                                 sites put header/footer chrome lines in the body,
                                 so their pages are also hard negatives for
                                 boilerplate)
  rescrape       UNCHANGED       the URL's current text again; a share of them with
                                 whitespace-only variants (CRLF, U+3000 indents,
                                 trailing spaces, blank lines, `5 月 3 日` spacing)
  revision       REVISED         one edit of the URL's current text: a number
                                 changed, a sentence deleted, inserted or changed
  duplicate      DUPLICATE       the same text at a new mirror URL
  syndicated     NEAR_DUPLICATE  the article inside another site's chrome lines
                 (or DUPLICATE)
  doubled        NEAR_DUPLICATE  the body captured twice, at a new mirror URL
                 (or DUPLICATE)  (dedupd collapses repeats: docs/design.md)
  same_topic     NEW             hard negative: a new page reusing ~25% of an earlier
                                 page's paragraphs
  rescrape_doubled   UNCHANGED   the URL re-fetched by a broken scraper: its current
                                 text captured twice (DESIGN.md: a doubled body must
                                 not make a page look different)
  rescrape_template  UNCHANGED   the URL re-fetched as HTML with another page template
                                 (other navigation, footer and script): only chrome
                                 outside the content changed

and --html-share of all messages rendered as HTML in the corpus's layout (head,
style, a script with a fresh nonce, nav, div.content, footer; chrome lines as
div.site-head / div.site-foot, which are content).

The --expected file has the corpus's dev-expected.jsonl layout (line, verdict,
match, match_any, accept, label, lang, format, story), so that
scripts/eval-corpus.py's scorer can run on it as a sanity check of the
generator. Those labels are *designed*, not computed mechanically like the
corpus's: `match_any` lists every URL of the story (any is a fair source) for
near copies, and every URL whose current content key is identical for exact
ones."""
import argparse
import collections
import hashlib
import json
import os
import random
import re
import sys
import time
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

DEFAULT_MIX = {"new": 0.40, "rescrape": 0.28, "revision": 0.10, "duplicate": 0.05,
               "syndicated": 0.05, "doubled": 0.03, "same_topic": 0.05,
               "rescrape_doubled": 0.02, "rescrape_template": 0.02}
WHITESPACE_SHARE = 0.3  # of rescrapes
WINDOW = 20000          # URLs a later message may refer to (related messages follow within it)

ZH_END = re.compile(r"[^。！？；]*[。！？；]+[”’」』）)]*|[^。！？；]+$")
EN_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"“(0-9])")
CJK = re.compile(r"[\u4e00-\u9fff]")
EN_WORD = re.compile(r"\b[A-Za-z]{4,}\b")
NUMBER = re.compile(r"\d+")
WHITESPACE = re.compile(r"\s+")


def content_key(lines):
    """Identity of a page's content: its lines with all whitespace removed (the
    corpus's content key without NFKC, which changes nothing the generator
    varies), hashed to keep 20,000 pages of state small."""
    return hashlib.blake2b(WHITESPACE.sub("", "".join(lines)).encode(), digest_size=16).digest()


class Pool:
    """Real articles of one language: paragraphs as lists of sentences."""

    def __init__(self, corpus_dir, lang, rng):
        self.lang = lang
        self.rng = rng
        self.articles = []
        expected = [json.loads(l) for l in open(os.path.join(corpus_dir, "dev-expected.jsonl"), encoding="utf-8")]
        seen = set()
        with open(os.path.join(corpus_dir, "dev.jsonl"), encoding="utf-8") as f:
            for line, exp in zip(f, expected):
                if exp["label"] != "new" or exp["format"] != "text" or exp["lang"] != lang:
                    continue
                msg = json.loads(line)
                paras = [p.strip() for p in msg["body"].splitlines() if p.strip()]
                key = content_key(paras)
                if key in seen:
                    continue
                seen.add(key)
                split = [self.sentences(p) for p in paras]
                self.articles.append({"title": msg.get("title") or "", "paras": [s for s in split if s]})
        if not self.articles:
            sys.exit(f"gen: no '{lang}' articles in {corpus_dir}")
        counts = collections.Counter()
        for a in self.articles:
            for p in a["paras"]:
                for s in p:
                    counts.update(CJK.findall(s) if lang == "zh" else EN_WORD.findall(s))
        self.vocab = list(counts)
        self.cum = []
        total = 0
        for w in self.vocab:
            total += counts[w]
            self.cum.append(total)

    def sentences(self, para):
        if self.lang == "zh":
            return [s for s in ZH_END.findall(para) if s.strip()]
        return [s for s in EN_END.split(para) if s.strip()]

    def substitute(self, sentence):
        """One random substitution, so that no sentence repeats verbatim across pages."""
        pattern = CJK if self.lang == "zh" else EN_WORD
        start = self.rng.randrange(len(sentence)) if sentence else 0
        m = pattern.search(sentence, start) or pattern.search(sentence)
        if not m:
            return sentence
        word = self.rng.choices(self.vocab, cum_weights=self.cum)[0]
        return sentence[:m.start()] + word + sentence[m.end():]

    def paragraph_run(self):
        art = self.rng.choice(self.articles)
        paras = art["paras"]
        start = self.rng.randrange(len(paras))
        n = self.rng.randint(1, 4)
        return art, [[self.substitute(s) for s in p] for p in paras[start:start + n]]

    def page(self, target_bytes):
        """Paragraph runs of several articles until the page holds target_bytes."""
        paras, title, size = [], None, 0
        while size < target_bytes:
            art, run = self.paragraph_run()
            if title is None:
                title = self.substitute(art["title"])
            for p in run:
                text = "".join(p) if self.lang == "zh" else " ".join(p)
                paras.append(text)
                size += len(text.encode()) + 1
        return title, paras

    def sentence(self):
        _, run = self.paragraph_run()
        return self.rng.choice(run[0])


ZH_PLACES = ["江北", "临川", "云岭", "海湾", "东川", "南原", "西岭", "青溪", "北塘", "金沙", "白石", "长河",
             "平湖", "凤台", "龙泉", "桂林湾", "松江口", "梅岭", "柳州湾", "石门"]
ZH_KINDS = [("人民政府门户网站", "gov"), ("新闻网", "news"), ("日报", "daily"), ("政务服务网", "zwfw")]
EN_PLACES = ["Riverside", "Harbor", "Lakeview", "Northgate", "Pinecrest", "Summit", "Westbrook", "Fairmont",
             "Oakridge", "Bayshore", "Cedar Falls", "Maple Grove", "Silver Creek", "Eastport"]
EN_KINDS = [("Business Journal", "journal"), ("Daily Wire", "wire"), ("Ledger", "ledger"),
            ("Press Desk", "pressdesk")]


def make_sites(lang, rng, count=40):
    sites = []
    places, kinds = (ZH_PLACES, ZH_KINDS) if lang == "zh" else (EN_PLACES, EN_KINDS)
    for i in range(count):
        place = places[i % len(places)]
        name_kind, slug = kinds[(i // len(places) + i) % len(kinds)]
        name = place + name_kind if lang == "zh" else f"The {place} {name_kind}"
        host = f"www.{slug}{i:02d}-gen.example"  # registrable domain: one site per host
        chrome = i % 2 == 0
        if lang == "zh":
            head = [name, "首页 | 要闻 | 政务公开 | 办事服务 | 互动交流 | 专题专栏",
                    f"当前位置：首页 > {rng.choice(['新闻中心', '工作动态', '通知公告'])}"]
            foot = [f"主办：{name}编辑部  联系电话：0{rng.randint(100, 999)}-{rng.randint(10000000, 99999999)}",
                    f"版权所有 © {name}  备案号：{place[0]}ICP备{rng.randint(10000000, 99999999)}号",
                    "网站地图 | 联系我们 | 无障碍浏览 | 适老化服务"]
        else:
            head = [name, "Home | Local | Business | Markets | Opinion | Contact",
                    f"{rng.choice(['Company News', 'Announcements', 'Press Releases'])} / Latest"]
            foot = [f"Copyright {rng.randint(2019, 2025)} {place} Media LLC. All rights reserved.",
                    "Privacy Policy | Terms of Use | Advertise | Newsletter sign-up",
                    f"{name}, {rng.randint(10, 999)} Main Street, {place}"]
        sites.append({"name": name, "host": host, "head": head if chrome else [],
                      "foot": foot if chrome else []})
    return sites


# Two page templates: the corpus's, and a redesign (other navigation, footer, script).
HTML_NAV = [{"zh": ["主页", "要闻", "直播", "图片", "联系方式"], "en": ["Front Page", "News", "Business", "Photos", "Contact"]},
            {"zh": ["首页", "新闻", "视频", "专题", "服务", "关于我们"], "en": ["Home", "Latest", "Markets", "Video", "About", "Subscribe"]}]
HTML_FOOT = [{"zh": ("本站版权所有 2025 {host}", "免责声明 | 联系方式 | 友情链接"),
              "en": ("All content 2025 {host}", "Accessibility | Cookie Policy | Contact Us")},
             {"zh": ("© 2026 {host} 版权所有 未经授权禁止转载", "隐私政策 | 网站地图 | 意见反馈 | 手机版"),
              "en": ("© 2026 {host}. All rights reserved.", "Privacy | Sitemap | Feedback | Mobile edition")}]


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_html(lang, host, title, head, core, foot, rng, template=0):
    """The corpus's HTML layout: chrome in nav/footer (not content), site lines as divs (content)."""
    nonce = "%016x" % rng.getrandbits(64)
    font = '"PingFang SC","Microsoft YaHei",sans-serif' if lang == "zh" else "Georgia,serif"
    parts = [f'<!DOCTYPE html>\n<html lang="{"zh-CN" if lang == "zh" else "en"}"><head><meta charset="utf-8">\n',
             f"<title>{esc(title)}</title>\n",
             f"<style>body{{margin:0 auto;max-width:960px;font-family:{font}}}nav ul{{list-style:none}}"
             ".content p{line-height:1.8;text-indent:2em}footer{color:#888;font-size:12px}</style>\n",
             f'<script>window.__PAGE_CTX={{nonce:"{nonce}",host:"{host}",t:{template}}};</script>\n</head><body>\n',
             '<nav class="topnav"><ul>' + "".join(f'<li><a href="/{i}">{n}</a></li>' for i, n in enumerate(HTML_NAV[template][lang]))
             + "</ul></nav>\n<div id=\"main\">\n"]
    if head:
        parts.append('<div class="site-head">' + "".join(f"<p>{esc(l)}</p>" for l in head) + "</div>\n")
    parts.append('<div class="content">\n' + "\n".join(f"<p>{esc(p)}</p>" for p in core) + "\n</div>\n")
    if foot:
        parts.append('<div class="site-foot">' + "".join(f"<p>{esc(l)}</p>" for l in foot) + "</div>\n")
    f1, f2 = HTML_FOOT[template][lang]
    parts.append(f"</div>\n<footer><p>{f1.format(host=host)}</p><p>{f2}</p></footer>\n</body></html>")
    return "".join(parts)


def whitespace_variant(lines, lang, rng):
    """Presentation-only changes: the content key (all whitespace removed) stays the same."""
    out = list(lines)
    kind = rng.choice(["crlf", "indent", "trailing", "blank", "digits" if lang == "zh" else "spaces"])
    if kind == "indent":
        out = [("\u3000\u3000" if lang == "zh" else "    ") + l for l in out]
    elif kind == "trailing":
        out = [l + "  " for l in out]
    elif kind == "blank":
        out = [x for l in out for x in (l, "")]
    elif kind == "digits":
        out = [re.sub(r"(?<=[\u4e00-\u9fff])(\d+)(?=[\u4e00-\u9fff])", r" \1 ", l) for l in out]
    elif kind == "spaces":
        out = [l.replace(" ", "  ") for l in out]
    sep = "\r\n" if kind == "crlf" else "\n"
    return sep.join(out), kind


def revise(core, pool, rng):
    """One edit of the article paragraphs; returns (new core, description)."""
    for _ in range(20):
        new = list(core)
        i = rng.randrange(len(new))
        kind = rng.choice(["number", "delete", "insert", "change"])
        if kind == "number":
            nums = list(NUMBER.finditer(new[i]))
            if not nums:
                continue
            m = rng.choice(nums)
            val = str(int(m.group()) + rng.randint(1, 9))
            new[i] = new[i][:m.start()] + val + new[i][m.end():]
        elif kind == "delete":
            sents = pool.sentences(new[i])
            if len(sents) < 2:
                if len(new) < 2:
                    continue
                del new[i]
            else:
                del sents[rng.randrange(len(sents))]
                new[i] = ("" if pool.lang == "zh" else " ").join(sents)
        elif kind == "insert":
            sents = pool.sentences(new[i])
            sents.insert(rng.randint(0, len(sents)), pool.sentence())
            new[i] = ("" if pool.lang == "zh" else " ").join(sents)
        else:
            sents = pool.sentences(new[i])
            j = rng.randrange(len(sents))
            sents[j] = pool.substitute(sents[j])
            new[i] = ("" if pool.lang == "zh" else " ").join(sents)
        if content_key(new) != content_key(core):
            return new, kind
    return core + [pool.sentence()], "append"


def parse_mix(text):
    mix = dict(DEFAULT_MIX)
    if text:
        for part in text.split(","):
            k, v = part.split("=")
            if k not in mix:
                sys.exit(f"gen: unknown scenario '{k}' (known: {', '.join(mix)})")
            mix[k] = float(v)
    return mix


class Generator:
    def __init__(self, args):
        self.rng = random.Random(args.seed)
        self.args = args
        langs = ["zh", "en"] if args.lang == "mix" else [args.lang]
        self.pools = {l: Pool(args.corpus, l, self.rng) for l in langs}
        self.sites = {l: make_sites(l, self.rng) for l in langs}
        self.lang_weights = [0.65, 0.35] if args.lang == "mix" else [1.0]
        self.langs = langs
        self.mix = parse_mix(args.mix)
        self.urls = {}                     # url -> record (current version)
        self.order = collections.deque()   # urls in registration order (the window)
        self.by_key = collections.defaultdict(list)  # content key -> urls holding it now
        self.stories = collections.defaultdict(list)  # story -> urls
        self.serial = 0
        self.clock = 1740787200  # 2025-03-01T00:00Z, advances 20-300 s per message

    def new_url(self, host, lang):
        self.serial += 1
        day = 1 + self.serial % 28
        if lang == "zh":
            return f"https://{host}/xxgk/2025-0{1 + self.serial % 9}/{day:02d}/content_{self.serial}.htm"
        return f"https://{host}/news/2025/{1 + self.serial % 9:02d}/{day:02d}/release-{self.serial}.html"

    def register(self, url, rec):
        old = self.urls.get(url)
        if old is not None:
            self.by_key[old["key"]].remove(url)
        else:
            self.order.append(url)
            self.stories[rec["story"]].append(url)
        self.urls[url] = rec
        self.by_key[rec["key"]].append(url)
        while len(self.order) > WINDOW:
            gone = self.order.popleft()
            r = self.urls.pop(gone)
            self.by_key[r["key"]].remove(gone)
            if not self.by_key[r["key"]]:
                del self.by_key[r["key"]]
            self.stories[r["story"]].remove(gone)
            if not self.stories[r["story"]]:
                del self.stories[r["story"]]

    def pick(self, lang):
        """A random earlier URL of this language inside the window (recent ones likelier)."""
        n = len(self.order)
        for _ in range(50):
            back = int(self.rng.expovariate(1 / 2000))
            url = self.order[n - 1 - (back if back < n else self.rng.randrange(n))]
            if self.urls[url]["lang"] == lang:
                return url
        return None

    def message(self, line_no):
        rng = self.rng
        lang = rng.choices(self.langs, weights=self.lang_weights)[0]
        pool = self.pools[lang]
        scenario = rng.choices(list(self.mix), weights=list(self.mix.values()))[0]
        src_url = self.pick(lang) if scenario != "new" and self.order else None
        if src_url is None:
            scenario = "new"
        exp = {"line": line_no, "lang": lang, "label": scenario}
        sep_text = None
        if scenario in ("new", "same_topic"):
            site = rng.choice(self.sites[lang])
            title, core = pool.page(self.args.page_bytes)
            if scenario == "same_topic":
                # about a quarter of the earlier page's sentences, in one run, then a
                # whole new page: containment ~0.25, far below any near-duplicate rule
                src = self.urls[src_url]
                sents = [x for p in src["core"] for x in pool.sentences(p)]
                keep = max(1, len(sents) // 4)
                start = rng.randrange(len(sents) - keep + 1)
                core = [("" if lang == "zh" else " ").join(sents[start:start + keep])] + core
                exp["related"] = src_url
            url = self.new_url(site["host"], lang)
            rec = {"lang": lang, "site": site, "title": title, "core": core, "story": url}
            exp.update(verdict="NEW", match=None, story=url)
        elif scenario in ("rescrape", "revision", "rescrape_doubled", "rescrape_template"):
            rec = dict(self.urls[src_url])
            url = src_url
            if scenario == "revision":
                rec["core"], exp["edit"] = revise(rec["core"], pool, rng)
                exp.update(verdict="REVISED", match=url)
            else:
                exp.update(verdict="UNCHANGED", match=url)
                if rng.random() < WHITESPACE_SHARE:
                    exp["label"] = "rescrape_whitespace"
                    sep_text = True
            exp["story"] = rec["story"]
        else:  # duplicate, syndicated, doubled: a new URL
            src = self.urls[src_url]
            rec = dict(src)
            if scenario == "syndicated":
                others = [s for s in self.sites[lang] if s["head"] and s is not src["site"]]
                rec["site"] = rng.choice(others)
                url = self.new_url(rec["site"]["host"], lang)
            else:
                mirror = {"name": "", "host": f"archive.mirror{rng.randrange(8)}-gen.example", "head": [], "foot": []}
                url = self.new_url(mirror["host"], lang)
                rec["site"] = dict(src["site"], host=mirror["host"])  # an exact copy keeps the chrome lines: they are content
            exp["story"] = rec["story"]
        lines = rec["site"]["head"] + rec["core"] + rec["site"]["foot"]
        if scenario in ("doubled", "rescrape_doubled"):
            lines = lines + lines
        rec = dict(rec, key=content_key(lines))
        if scenario in ("doubled", "rescrape_doubled"):
            # DESIGN.md: the canonical text has repeats collapsed, so a doubled
            # capture holds the single body's content
            rec["key"] = content_key(lines[:len(lines) // 2])
        if scenario in ("duplicate", "syndicated", "doubled"):
            holders = self.by_key.get(rec["key"], [])
            story_urls = list(self.stories.get(rec["story"], []))
            if scenario == "duplicate" and holders:
                exp.update(verdict="DUPLICATE", match=holders[0], match_any=list(holders))
            else:
                # near copies: any URL of the story is a fair source
                exp.update(verdict="NEAR_DUPLICATE", match=story_urls[0] if story_urls else src_url,
                           match_any=story_urls or [src_url], accept=["DUPLICATE"])
        html = scenario == "rescrape_template" or rng.random() < self.args.html_share
        exp["format"] = "html" if html else "text"
        if html:
            template = 1 if scenario == "rescrape_template" else 0
            if scenario in ("doubled", "rescrape_doubled"):  # the whole capture twice, chrome lines included
                body = render_html(lang, urlhost(url), rec["title"], [], lines, [], rng, template)
            else:
                body = render_html(lang, urlhost(url), rec["title"], rec["site"]["head"], rec["core"],
                                   rec["site"]["foot"], rng, template)
            ctype = "text/html; charset=utf-8"
        else:
            if sep_text:
                body, exp["whitespace"] = whitespace_variant(lines, lang, rng)
            else:
                body = "\n".join(lines)
            ctype = "text/plain; charset=utf-8"
        self.register(url, rec)
        self.clock += rng.randint(20, 300)
        fetched = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock))
        msg = {"url": url, "fetched_at": fetched, "content_type": ctype, "body": body, "title": rec["title"]}
        return msg, exp


def urlhost(url):
    return url.split("/")[2]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default=os.path.join(ROOT, "tests/data/corpus"))
    ap.add_argument("--pages", type=int, default=10000)
    ap.add_argument("--lang", choices=["zh", "en", "mix"], default="mix")
    ap.add_argument("--page-bytes", type=int, default=5000, help="article text per new page (UTF-8 bytes)")
    ap.add_argument("--html-share", type=float, default=0.10)
    ap.add_argument("--mix", help="scenario weights, e.g. new=0.4,rescrape=0.3 (others keep their default)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    ap.add_argument("--expected")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    gen = Generator(args)
    counts = collections.Counter()
    total = 0
    exp_out = open(args.expected, "w", encoding="utf-8") if args.expected else None
    with open(args.out, "w", encoding="utf-8") as out:
        for i in range(1, args.pages + 1):
            msg, exp = gen.message(i)
            line = json.dumps(msg, ensure_ascii=False)
            out.write(line + "\n")
            total += len(line.encode()) + 1
            counts[exp["label"]] += 1
            if exp_out:
                exp_out.write(json.dumps(exp, ensure_ascii=False) + "\n")
    if exp_out:
        exp_out.close()
    if not args.quiet:
        mix = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        print(f"gen: {args.pages} messages, {total / 1e6:.1f} MB -> {args.out} ({mix})", file=sys.stderr)


if __name__ == "__main__":
    main()
