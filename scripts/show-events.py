#!/usr/bin/env python3
"""Prints dedupd's JSON outputs (output.format: json) readably: one line per
event in input order, the word-level diff under each REVISED / NEAR_DUPLICATE
event, and the dead letters with their reasons.
   show-events.py EVENTS.jsonl DIFFS.jsonl DLQ.jsonl"""
import json
import sys


def load(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line:
                out.append(json.loads(line))
    return out


def marked(text, spans, opener, closer):
    b = text.encode("utf-8")
    out, pos = b"", 0
    for s in sorted(spans, key=lambda s: s.get("begin", 0)):
        begin, end = s.get("begin", 0), s.get("end", 0)
        out += b[pos:begin] + opener.encode() + b[begin:end] + closer.encode()
        pos = end
    return (out + b[pos:]).decode("utf-8", "replace")


def main():
    events, diffs, dlq = (load(p) for p in sys.argv[1:4])
    by_event = {d.get("event_id"): d for d in diffs}
    rows = [(e["source"].get("offset", 0), "event", e) for e in events]
    rows += [(d["source"].get("offset", 0), "dlq", d) for d in dlq]
    for offset, kind, rec in sorted(rows, key=lambda r: int(r[0])):
        n = int(offset) + 1
        if kind == "dlq":
            print(f"#{n:<3} DEAD_LETTER     {rec.get('reason_code')}: {rec.get('detail')}")
            continue
        verdict = rec.get("verdict")
        if verdict == "REVISED":
            verdict += f" v{rec.get('version')}"
        flags = "".join(f"  [{f}]" for f in rec.get("flags", []))
        print(f"#{n:<3} {verdict:<15} {rec.get('canonical_url')}{flags}")
        match = rec.get("match")
        if match and rec.get("verdict") in ("DUPLICATE", "NEAR_DUPLICATE"):
            print(f"       of {match.get('url')} (similarity {match.get('similarity', 1):.2f}, "
                  f"simhash distance {match.get('distance', 0)})")
        d = by_event.get(rec.get("event_id"))
        if d and rec.get("verdict") == "REVISED":
            s = d.get("significance", {})
            what = [name for key, name in (("numbers_changed", "numbers"), ("dates_changed", "dates"),
                                           ("amounts_changed", "amounts")) if s.get(key)]
            print(f"       severity {s.get('severity', '').lower()}: {s.get('sentences_changed', 0)} changed, "
                  f"{s.get('sentences_added', 0)} added, {s.get('sentences_removed', 0)} removed"
                  + (f"; changed {', '.join(what)}" if what else ""))
            for h in d.get("hunks", []):
                old_spans, new_spans = {}, {}
                for s_, i in zip(h.get("old_spans", []), h.get("old_span_sentence", [])):
                    old_spans.setdefault(i, []).append(s_)
                for s_, i in zip(h.get("new_spans", []), h.get("new_span_sentence", [])):
                    new_spans.setdefault(i, []).append(s_)
                old, new = h.get("old_text", []), h.get("new_text", [])
                # Changed sentences come in pairs: show each old one above its new one.
                pairs = len(old) if h.get("kind") == "CHANGED" and len(old) == len(new) else 0
                for i in range(pairs):
                    print("       - " + marked(old[i], old_spans.get(i, []), "[-", "-]"))
                    print("       + " + marked(new[i], new_spans.get(i, []), "{+", "+}"))
                for i in range(pairs, len(old)):
                    print("       - " + marked(old[i], old_spans.get(i, []), "[-", "-]"))
                for i in range(pairs, len(new)):
                    print("       + " + marked(new[i], new_spans.get(i, []), "{+", "+}"))

if __name__ == "__main__":
    main()
