#!/usr/bin/env python3
"""Groups a perf profile's self time by stage, the way docs/benchmarks.md
("Detection cost, issue #11") reports it.

   perf record -e cpu-clock -g -o scan.data dedupd scan stream.jsonl > /dev/null
   bench/path/perf-groups.py scan.data
   bench/path/perf-groups.py run.data dedupd     # one thread name's samples

Symbols are matched in order against the patterns below; the first match
names the group."""
import re
import subprocess
import sys

GROUPS = [
    # the loop's libraries (a profile of `dedupd run`, issue #12), by library;
    # for `run`, also the state's encoding, metrics, clock reads and locks
    ("zstd", r"libzstd"),
    ("lz4", r"liblz4"),
    ("RocksDB", r"librocksdb|rocksdb::"),
    ("librdkafka", r"librdkafka"),
    ("state record codec", r"EncodeUrlState|DecodeUrlState|EncodeHistory|DecodeHistory|"
     r"EncodeFingerprintRecord|DecodeStateRecord|PeekRecordHeader|PeekUrlState|PutSketch|GetSketch|"
     r"BitWriter|state::\(anonymous namespace\)::Put|PutCompressed"),
    ("metrics (rendering /metrics, counting)", r"metrics::|prometheus|civetweb|mg_"),
    ("clock reads", r"clock_gettime|__vdso|steady_clock|system_clock"),
    ("locks", r"pthread_mutex|pthread_rwlock|pthread_cond|mtx_lock|mtx_unlock|cnd_"),
    # Matched against "KIND DSO SYMBOL": a bare libc symbol is anchored on the
    # space before it, not on the line's start.
    ("malloc/free/memmove", r"_int_malloc| malloc$|_int_free|cfree| free$|__libc_free|__libc_malloc|"
     r"malloc_consolidate|unlink_chunk|operator new|operator delete|__memmove|memcpy|_M_mutate|_M_create|"
     r"realloc|tcache"),
    ("memset", r"__memset"),
    ("normalisation", r"NormalizeImpl|NormalizeForMatch|ContentKey|JoinSentenceForms|NormalizeBlockFromSentences"),
    ("HTML extraction", r"gumbo|ExtractHtml|NestingLimiter|utf8iterator|ExtractText|extract"),
    ("sketch (BottomK32, CompareSketches)", r"BottomK32|CompareSketches|EstimateJaccard|EstimateContainment"),
    ("sorting 64-bit hashes", r"introsort|__sort|insertion_sort|SortUnique|nth_element|__adjust_heap"),
    ("tokenise/shingle/hash/SimHash", r"ShingleSet|XXH3|XXH_|Hash64|CountTokens|SimHash|HashContent"),
    ("sentence splitting", r"SplitSentences|TerminatorOf|text::\(anonymous namespace\)::Push|DecodeAt|EndsAbbreviation|"
     r"text::\(anonymous namespace\)::Split<|NextTerminator"),
    ("boilerplate model", r"BoilerplateModel|Entry>"),
    ("repeats (FindRepeats)", r"FindRepeats|repeats"),
    ("diff (REVISED/NEAR_DUPLICATE)", r"diff::|Myers|Differ"),
    ("output JSON (direct writer)", r"AppendJson|emit::\(anonymous namespace\)::|emit::Append"),
    ("output JSON (protobuf)", r"protobuf"),
    ("input JSON (simdjson) and page parsing", r"simdjson|PageParser|parse::|Registrable"),
    ("set algebra (exact)", r"Containment|Jaccard|IntersectionSize"),
    ("code point counting", r"CountCodePoints"),
    ("plain-text blocks", r"SplitPlainText|SplitLines|JoinLines"),
    # What "other" held in a profile of `dedupd scan` (session 8, s8/kernels):
    # kernels of the groups above under names their patterns miss (a group
    # named twice adds up), then new groups.
    ("sketch (BottomK32, CompareSketches)", r"FilterTopHalves|SortUniform32"),
    ("tokenise/shingle/hash/SimHash", r"HashShingles"),
    ("normalisation", r"NormalizeBlockForms|PageForms|SentenceJoin|text::\(anonymous namespace\)::Mapped<|EdgeOf|utf8proc"),
    ("plain-text blocks", r"SplitValidPlainText"),
    ("URL table (UrlTable, TagTable)", r"UrlTable|TagTable"),
    ("indexes (passages, SimHash, sketches)", r"ParagraphIndex|SimHashIndex|BucketArray|SketchStore|IdTable|index::"),
    ("detector's own code (Prepare, Decide, FingerprintBlocks)", r"Detector::|classify::"),
    ("state (memory store, UrlState)", r"state::|MemoryStore"),
    ("std hash tables", r"_Hashtable|_Hash_bytes|_Map_base|unordered_"),
    ("text extraction (plain text, trimming)", r"text::internal::|StreamExtract|TrimBlockText|HasNoncharacter"),
    ("std::string and vector growth", r"basic_string|vector<"),
    ("kernel", r"^\[k\]"),
    ("other libc", r"libc\.so"),
]


def main():
    # perf-groups.py PROFILE [THREAD_NAME]: with a thread name (dedupd,
    # rdk:broker1, rocksdb:high, ...), only that thread's samples, still as a
    # share of the whole profile's.
    command = ["perf", "report", "-i", sys.argv[1], "--no-children", "--sort", "dso,symbol",
               "--stdio", "-g", "none", "--percentage", "absolute"]
    if len(sys.argv) > 2:
        command += ["--comms", sys.argv[2]]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    totals = {}
    for line in out.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+(\[.\])\s+(.*?)\s*(-\s+-\s*)?$", line)
        if not m:
            continue
        pct, dso, kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4)
        name = "other"
        for group, pattern in GROUPS:
            # Symbols a library does not resolve are grouped by the library.
            if re.search(pattern, kind + " " + dso + " " + sym):
                name = group
                break
        totals[name] = totals.get(name, 0) + pct
    for name, pct in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {pct:.1f}% |")


if __name__ == "__main__":
    main()
