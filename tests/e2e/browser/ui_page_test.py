#!/usr/bin/env python3
"""/ui/page in headless Chromium (docs/api.md, "The page").

Serves the fixture stream with `dedupd scan --hold` (no broker), plus a
hostile page, then loads /ui/page in Debian's chromium:
  * the edited Sichuan release (tests/data/fixtures/pages.jsonl line 7): the
    DOM shows four changed sentences, with the inserted 全体 and 三 marked as
    <ins>; a screenshot is saved as a test artifact;
  * a page whose text holds <script>, "><img onerror=...> and U+202E/U+200B:
    the DOM holds no <img> or <script> element, no handler ran, and no bidi
    override survives.
Exit 77 (skipped) when chromium is not installed.
  ui_page_test.py DEDUPD_BINARY SOURCE_DIR ARTIFACT_DIR
"""
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

DEDUPD, SOURCE, ARTIFACTS = sys.argv[1:4]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if not CHROMIUM:
    print("SKIPPED: chromium is not installed (scripts/setup installs it)")
    sys.exit(77)

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


class Dom(html.parser.HTMLParser):
    """Elements with their classes and text, enough for the checks below."""

    def __init__(self):
        super().__init__()
        self.tags = []       # (tag, attrs)
        self.stack = []      # open elements: [tag, attrs, text parts]
        self.closed = []     # (tag, attrs, text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag not in ("br", "meta", "col", "input", "img", "link"):
            self.stack.append([tag, a, []])

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i][0] == tag:
                t, a, parts = self.stack.pop(i)
                text = "".join(parts)
                self.closed.append((t, a, text))
                for s in self.stack:
                    s[2].append(text)
                return

    def handle_data(self, data):
        if self.stack:
            self.stack[-1][2].append(data)


def chromium(url, *extra):
    profile = tempfile.mkdtemp(prefix="dedupd-chromium-")
    try:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", "--user-data-dir=" + profile, "--virtual-time-budget=2000",
             *extra, url],
            capture_output=True, text=True, timeout=90)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


work = tempfile.mkdtemp(prefix="dedupd-ui-test-")
# Bytes: the fixture stream holds deliberately invalid UTF-8 lines.
lines = open(os.path.join(SOURCE, "tests/data/fixtures/pages.jsonl"), "rb").read().split(b"\n")
sichuan = json.loads(lines[6])["url"]
hostile_url = "https://evil.example/hostile.html"
payload = ("Breaking <script>document.title='PWNED-SCRIPT'</script> news about the council.\n"
           "\"><img src=x onerror=\"document.title='PWNED-IMG'\"> The council met on Monday evening.\n"
           "\u202eThe budget was approved by seven votes to two\u200b after a long debate.")
hostile = [
    {"url": hostile_url, "fetched_at": "2024-03-14T08:00:00Z", "content_type": "text/plain",
     "body": payload},
    {"url": hostile_url, "fetched_at": "2024-03-14T09:00:00Z", "content_type": "text/plain",
     "body": payload + "\nUpdate: <script>document.title='PWNED-2'</script> the mayor signed it."},
]
stream = os.path.join(work, "stream.jsonl")
with open(stream, "wb") as f:
    for line in lines:
        if line:
            f.write(line + b"\n")
    for page in hostile:
        f.write(json.dumps(page, ensure_ascii=False).encode() + b"\n")

log_path = os.path.join(work, "scan.log")
proc = subprocess.Popen([DEDUPD, "scan", stream, "--format", "json", "--metrics-port", "0",
                         "--hold", "120", "--set", "metrics.bind=127.0.0.1"],
                        stdout=subprocess.DEVNULL, stderr=open(log_path, "w"))
try:
    port = None
    for _ in range(200):  # up to 20 s
        text = open(log_path, encoding="utf-8", errors="replace").read()
        if "scan done" in text:
            m = re.search(r"127\.0\.0\.1:(\d+)", text)
            port = m and m.group(1)
            break
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    if not port:
        print(open(log_path).read())
        sys.exit("dedupd scan --hold did not start serving")
    base = "http://127.0.0.1:%s" % port

    # --- the edited Sichuan release -------------------------------------
    page = base + "/ui/page?url=" + urllib.parse.quote(sichuan, safe="")
    with urllib.request.urlopen(page, timeout=10) as r:
        headers = r.headers
    check("script-src 'none'" in headers.get("Content-Security-Policy", ""), "CSP forbids scripts")
    check(headers.get("X-Content-Type-Options") == "nosniff", "nosniff")
    out = chromium(page, "--dump-dom")
    dom = Dom()
    dom.feed(out.stdout)
    rows = [(a, t) for tag, a, t in dom.closed if tag == "tr"]
    changed = [t for a, t in rows if "changed" in a.get("class", "").split()]
    check(len(changed) == 4, "four changed sentences (got %d)" % len(changed))
    inserted = [t for tag, a, t in dom.closed if tag == "ins"]
    check("全体" in inserted, "全体 marked as inserted (ins: %r)" % inserted)
    check("三" in inserted, "三 marked as inserted")
    check(any(tag == "table" and "zh" == a.get("lang") for tag, a in dom.tags), "diff table lang=zh")
    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, "ui-page-sichuan.png")
    if os.path.exists(shot):
        os.remove(shot)
    chromium(page, "--screenshot=" + shot, "--window-size=1280,1600", "--hide-scrollbars")
    check(os.path.exists(shot) and os.path.getsize(shot) > 20000, "screenshot saved: " + shot)

    # --- the hostile page -------------------------------------------------
    for query in ("", "&to=1"):
        hp = base + "/ui/page?url=" + urllib.parse.quote(hostile_url, safe="") + query
        out = chromium(hp, "--dump-dom")
        dom = Dom()
        dom.feed(out.stdout)
        tags = [t for t, a in dom.tags]
        check("script" not in tags and "img" not in tags,
              "hostile%s: no <script> or <img> element in the DOM" % query)
        title = [t for tag, a, t in dom.closed if tag == "title"]
        check(not any("PWNED" in t for t in title), "hostile%s: no handler or script ran" % query)
        check("\u202e" not in out.stdout, "hostile%s: no bidi override in the DOM" % query)
        check("onerror" in out.stdout and "&lt;script&gt;" in out.stdout,
              "hostile%s: the text is shown, escaped" % query)
        chromium(hp, "--screenshot=" + os.path.join(ARTIFACTS, "ui-page-hostile%s.png" % (query and "-v1")),
                 "--window-size=1280,900", "--hide-scrollbars")
finally:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(work, ignore_errors=True)

if failures:
    sys.exit("%d check(s) failed" % len(failures))
print("all checks passed")
