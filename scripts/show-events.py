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
            print(f"       severity {s.get('severity', '').lower()}: {s.get('sentences_changed', 0)} changed, "
                  f"{s.get('sentences_added', 0)} added, {s.get('sentences_removed', 0)} removed")
            for h in d.get("hunks", []):
                old_spans, new_spans = {}, {}
                for s_, i in zip(h.get("old_spans", []), h.get("old_span_sentence", [])):
                    old_spans.setdefault(i, []).append(s_)
                for s_, i in zip(h.get("new_spans", []), h.get("new_span_sentence", [])):
                    new_spans.setdefault(i, []).append(s_)
                for i, t in enumerate(h.get("old_text", [])):
                    print("       - " + marked(t, old_spans.get(i, []), "[-", "-]"))
                for i, t in enumerate(h.get("new_text", [])):
                    print("       + " + marked(t, new_spans.get(i, []), "{+", "+}"))


if __name__ == "__main__":
    main()
