// What each HTML element means for extraction, shared by the gumbo tree walk
// (the reference path) and the streaming extractor so that the two cannot
// disagree on a tag's role. Indexed by gumbo's tag enum.
//
//   if (kActions[GUMBO_TAG_NAV] == Action::kChrome) ...
//
// Thread-safety: constant data.
#pragma once

#include <gumbo.h>

#include <array>
#include <cstdint>

namespace dedupd::text::internal {

enum class Action : uint8_t {
  kInline,  // text joins the current block
  kBlock,   // ends the current block on entry and exit
  kChrome,  // a block whose contents are page chrome
  kPre,     // a block whose lines are blocks and whose spacing is kept
  kBreak,   // <br>, <hr>: ends the current block
  kDrop,    // the subtree is not visible text
  kTitle,   // <title> outside <head>: not rendered, may supply the title
};

constexpr std::array<Action, GUMBO_TAG_LAST + 1> MakeActions() {
  std::array<Action, GUMBO_TAG_LAST + 1> a{};
  for (auto& x : a) x = Action::kInline;
  for (GumboTag t :
       {GUMBO_TAG_HTML,     GUMBO_TAG_BODY,       GUMBO_TAG_ARTICLE,  GUMBO_TAG_SECTION,
        GUMBO_TAG_H1,       GUMBO_TAG_H2,         GUMBO_TAG_H3,       GUMBO_TAG_H4,
        GUMBO_TAG_H5,       GUMBO_TAG_H6,         GUMBO_TAG_HGROUP,   GUMBO_TAG_ADDRESS,
        GUMBO_TAG_P,        GUMBO_TAG_BLOCKQUOTE, GUMBO_TAG_OL,       GUMBO_TAG_UL,
        GUMBO_TAG_LI,       GUMBO_TAG_DL,         GUMBO_TAG_DT,       GUMBO_TAG_DD,
        GUMBO_TAG_FIGURE,   GUMBO_TAG_FIGCAPTION, GUMBO_TAG_MAIN,     GUMBO_TAG_DIV,
        GUMBO_TAG_TABLE,    GUMBO_TAG_CAPTION,    GUMBO_TAG_TBODY,    GUMBO_TAG_THEAD,
        GUMBO_TAG_TFOOT,    GUMBO_TAG_TR,         GUMBO_TAG_TD,       GUMBO_TAG_TH,
        GUMBO_TAG_FORM,     GUMBO_TAG_FIELDSET,   GUMBO_TAG_LEGEND,   GUMBO_TAG_DETAILS,
        GUMBO_TAG_SUMMARY,  GUMBO_TAG_MENU,       GUMBO_TAG_DIR,      GUMBO_TAG_CENTER,
        GUMBO_TAG_OPTION,   GUMBO_TAG_SELECT,     GUMBO_TAG_DATALIST, GUMBO_TAG_OPTGROUP,
        GUMBO_TAG_TEXTAREA, GUMBO_TAG_FRAMESET,   GUMBO_TAG_MULTICOL, GUMBO_TAG_VIDEO,
        GUMBO_TAG_AUDIO,    GUMBO_TAG_CANVAS,     GUMBO_TAG_OBJECT,   GUMBO_TAG_APPLET,
        GUMBO_TAG_MARQUEE}) {
    a[t] = Action::kBlock;
  }
  for (GumboTag t : {GUMBO_TAG_NAV, GUMBO_TAG_HEADER, GUMBO_TAG_FOOTER, GUMBO_TAG_ASIDE}) {
    a[t] = Action::kChrome;
  }
  for (GumboTag t : {GUMBO_TAG_PRE, GUMBO_TAG_LISTING, GUMBO_TAG_XMP, GUMBO_TAG_PLAINTEXT}) {
    a[t] = Action::kPre;
  }
  a[GUMBO_TAG_BR] = Action::kBreak;
  a[GUMBO_TAG_HR] = Action::kBreak;
  for (GumboTag t :
       {GUMBO_TAG_HEAD, GUMBO_TAG_SCRIPT, GUMBO_TAG_STYLE, GUMBO_TAG_NOSCRIPT, GUMBO_TAG_TEMPLATE,
        GUMBO_TAG_SVG, GUMBO_TAG_IFRAME, GUMBO_TAG_NOEMBED, GUMBO_TAG_NOFRAMES, GUMBO_TAG_FRAME,
        GUMBO_TAG_BASE, GUMBO_TAG_LINK, GUMBO_TAG_META}) {
    a[t] = Action::kDrop;
  }
  a[GUMBO_TAG_TITLE] = Action::kTitle;
  return a;
}

inline constexpr std::array<Action, GUMBO_TAG_LAST + 1> kActions = MakeActions();

}  // namespace dedupd::text::internal
