// An exact, byte-oriented transform of UTF-8 text that stores runs of
// three-byte characters (CJK, full-width punctuation) in two bytes each, for
// the state record's format 7 (PackText, then LZ4; docs/delivery.md, "State
// record cost, session 10"). On the zh pages of issue #12 it alone brings a
// text to 0.69 of its bytes (LZ4 alone: 0.79) in a third of LZ4's CPU time;
// ASCII text comes out as it went in.
//
//   std::string packed;
//   if (PackText(text, &packed)) {                 // false: a 0xFF byte, not packable
//     std::string back(text.size(), '\0');
//     bool ok = UnpackText(packed, &back);        // back == text
//   }
//
// The packed form has two modes, narrow first:
// - narrow: every byte stands for itself, except 0xFF (never in UTF-8),
//   which switches to wide;
// - wide: big-endian 16-bit units. 0x0080-0xD7FF and 0xE000-0xFFFF: that
//   code point's UTF-8 (two or three bytes), stay wide; 0x0000-0x007F: that
//   ASCII byte, then narrow; 0xDC00-0xDC7F: that ASCII byte, stay wide;
//   0xDD00: narrow, nothing written. Any other unit, or input that ends
//   inside a unit, is corrupt.
// Any byte string without 0xFF packs (invalid UTF-8 goes through narrow
// mode as it is); the encoder enters wide mode only where it saves bytes.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace dedupd::state {

// Replaces *out with the packed form of `text`. False (and *out
// unspecified) when `text` holds a 0xFF byte.
bool PackText(std::string_view text, std::string* out);

// Unpacks `packed` into *out, whose size on entry is the unpacked size (the
// record stores it). False when `packed` is corrupt or unpacks to another
// size; never reads or writes out of bounds.
bool UnpackText(std::string_view packed, std::string* out);

}  // namespace dedupd::state
